"""Feed polls against a real local HTTP server: every format, incremental polls with
conditional GET, dates and outlets carried to the stored articles, every bad input, back-off
and a poll stopped half-way."""

from __future__ import annotations

import asyncio
import html
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from feed_states import feeds_of
from local_http import LocalHTTPServer

from index import Config, KnowledgeBase
from index.config import FeedsConfig
from index.models import IngestReport, ParsedArticle
from index.web.feed_store import Feed, FeedStore
from index.web.fetch import Fetcher
from index.web.polling import FeedPoller, FeedReport, PollReport, fetch_articles

FEEDS = Path(__file__).parent / "data" / "feeds"
ARTICLES = json.loads((FEEDS / "articles.json").read_text(encoding="utf-8"))
PAGE = (FEEDS / "page.html").read_text(encoding="utf-8")


def page(path: str, url: str, *, site: str = "Harbour Wire", dated: bool = True) -> str:
    article = ARTICLES[path]
    date_meta = (
        f'<meta property="article:published_time" content="{article["date"]}">' if dated else ""
    )
    return PAGE.format(
        title=html.escape(article["title"]),
        site=html.escape(site),
        author=html.escape(article["author"]),
        date_meta=date_meta,
        url=url,
        paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in article["paragraphs"]),
    )


def serve_pages(server: LocalHTTPServer, *, site: str = "Harbour Wire") -> None:
    for path in ARTICLES:
        server.add(path, page(path, server.url(path), site=site))


def feed_text(name: str, server: LocalHTTPServer) -> str:
    return (FEEDS / name).read_text(encoding="utf-8").replace("{base}", server.url("").rstrip("/"))


@pytest.fixture
def feed_config(config: Config) -> Config:
    return config.model_copy(
        update={
            "fetch": config.fetch.model_copy(
                update={"timeout_seconds": 2.0, "host_interval_seconds": 0.0}
            ),
            "feeds": FeedsConfig(poll_interval_minutes=30, max_backoff_minutes=240),
        }
    )


@pytest.fixture
def feed_kb(feed_config: Config, fake_embedder: object, feed_state: str) -> Iterator[KnowledgeBase]:
    """A library to poll into; its feed state on each engine in turn (`feed_state`)."""
    from index import Embedder

    assert isinstance(fake_embedder, Embedder)
    kb = KnowledgeBase.open(feed_config, fake_embedder)
    yield kb
    kb.close()


def poll(
    kb: KnowledgeBase,
    feeds: list[Feed] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> PollReport:
    store = feeds_of(kb, clock=clock)

    async def run() -> PollReport:
        async with Fetcher(kb.config.fetch) as fetcher:
            return await FeedPoller(kb, store, fetcher, kb.config).poll(feeds)

    return asyncio.run(run())


def stopped_at(moment: datetime) -> Callable[[], datetime]:
    """A clock for the feed store that always says `moment` (naive UTC)."""
    return lambda: moment


def only(report: PollReport) -> FeedReport:
    assert len(report.feeds) == 1
    return report.feeds[0]


def stored(kb: KnowledgeBase) -> dict[str, object]:
    return {a.title: a for a in kb.list_articles()}


def add_feed(
    kb: KnowledgeBase,
    server: LocalHTTPServer,
    name: str,
    path: str,
    *,
    content_type: str = "application/rss+xml",
    outlet: str | None = None,
    country: str | None = None,
    etag: str | None = None,
) -> Feed:
    server.add(path, feed_text(name, server), content_type=content_type, etag=etag)
    feed, new = feeds_of(kb).add(server.url(path), outlet=outlet, country=country)
    assert new
    return feed


# -- the formats ---------------------------------------------------------------------------


def test_rss20_entries_become_articles_with_entry_dates_and_the_feeds_outlet(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml", outlet="Harbour Wire", country="gb")

    report = only(poll(feed_kb))

    assert (report.new, report.unchanged, report.failed, report.error) == (2, 0, (), None)
    assert report.format == "RSS 2.0"
    articles = stored(feed_kb)
    baltic = articles["Baltic states agree joint air defence plan"]
    # The entry's date wins over the page's own (27 Feb).
    assert baltic.published == datetime(2025, 3, 1, 8, 30)  # type: ignore[attr-defined]
    grain = articles["Grain corridor talks resume in Istanbul"]
    assert grain.published == datetime(2025, 3, 4, 9, 15)  # type: ignore[attr-defined]  # +0100
    for article in articles.values():
        assert article.outlet == "Harbour Wire"  # type: ignore[attr-defined]
        assert article.country == "GB"  # type: ignore[attr-defined]
        assert article.url.startswith(local_http.url("/world/"))  # type: ignore[attr-defined]
    # The page's text, not the feed's one-line description; no site chrome.
    assert "pooling radars and interceptor missiles" in baltic.text  # type: ignore[attr-defined]
    assert "cookies" not in baltic.text  # type: ignore[attr-defined]
    assert "Related stories" not in baltic.text  # type: ignore[attr-defined]
    assert baltic.author == "Ines Kalnina"  # type: ignore[attr-defined]


def test_atom_feed_uses_published_else_updated(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http, site="Meridian Post")
    add_feed(
        feed_kb,
        local_http,
        "atom10.xml",
        "/atom.xml",
        content_type="application/atom+xml",
        outlet="Meridian Post",
        country="SG",
    )

    report = only(poll(feed_kb))

    assert (report.new, report.format) == (2, "Atom 1.0")
    articles = stored(feed_kb)
    mekong = articles["Mekong dam dispute goes to regional commission"]
    assert mekong.published == datetime(2025, 3, 4, 23, 0)  # type: ignore[attr-defined]
    coast = articles["Manila and Hanoi sign coast guard accord"]
    assert coast.published == datetime(2025, 3, 6, 11, 45)  # type: ignore[attr-defined]
    assert {a.country for a in articles.values()} == {"SG"}  # type: ignore[attr-defined]


def test_rss10_rdf_feed(local_http: LocalHTTPServer, feed_kb: KnowledgeBase) -> None:
    serve_pages(local_http, site="Sahel Observer")
    add_feed(feed_kb, local_http, "rss10.rdf", "/rss10.rdf", content_type="application/rdf+xml")

    report = only(poll(feed_kb))

    assert (report.new, report.format) == (2, "RSS 1.0")
    niger = stored(feed_kb)["Niger's transitional council sets out election timetable"]
    assert niger.published == datetime(2025, 2, 20, 14, 0)  # type: ignore[attr-defined]
    # No outlet given with the feed: the page's site name.
    assert niger.outlet == "Sahel Observer"  # type: ignore[attr-defined]


def test_rss091_entry_without_a_date_takes_the_pages_date(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http, site="Andes Ledger")
    # Served as text/xml, the way many old feeds are.
    add_feed(feed_kb, local_http, "rss091.xml", "/rss091.xml", content_type="text/xml")

    report = only(poll(feed_kb))

    assert (report.new, report.format) == (1, "RSS 0.91")
    border = stored(feed_kb)["Bolivia and Peru reopen border crossing"]
    assert border.published == datetime(2025, 1, 13, 15, 30)  # type: ignore[attr-defined]


def test_every_feed_in_one_poll_and_one_bad_feed_does_not_stop_the_others(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml")
    add_feed(feed_kb, local_http, "atom10.xml", "/atom.xml", content_type="application/atom+xml")
    local_http.add(
        "/broken.xml", "<rss version='2.0'><channel><title>oops", content_type="text/xml"
    )
    feeds_of(feed_kb).add(local_http.url("/broken.xml"))
    local_http.add("/html.xml", "<html><body><p>Not a feed</p></body></html>")
    feeds_of(feed_kb).add(local_http.url("/html.xml"))

    report = poll(feed_kb)

    by_url = {f.url: f for f in report.feeds}
    assert by_url[local_http.url("/rss.xml")].new == 2
    assert by_url[local_http.url("/atom.xml")].new == 2
    broken = by_url[local_http.url("/broken.xml")]
    assert broken.error is not None and broken.new == 0
    assert "not an HTML" not in broken.error
    html_feed = by_url[local_http.url("/html.xml")]
    assert html_feed.error is not None and "content type text/html" in html_feed.error
    assert feed_kb.article_count() == 4
    assert report.new == 4 and report.failed == 2


# -- incremental polls ---------------------------------------------------------------------


def test_second_poll_sends_validators_and_a_304_takes_nothing(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml", etag='"v1"')
    assert only(poll(feed_kb)).new == 2
    embedded_before = feed_kb.passage_count()

    again = only(poll(feed_kb))

    assert again.not_modified and again.new == 0
    feed_requests = local_http.requests_to("/rss.xml")
    assert feed_requests[0].header("if-none-match") is None
    assert feed_requests[-1].header("if-none-match") == '"v1"'
    assert feed_kb.passage_count() == embedded_before
    # No page fetched again.
    assert len(local_http.requests_to("/world/baltic-air-defence.html")) == 1


def test_a_changed_feed_takes_only_its_new_entries(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml", etag='"v1"')
    poll(feed_kb)
    grown = feed_text("rss20.xml", local_http).replace(
        "  </channel>",
        f"""    <item>
      <title>Bolivia and Peru reopen border crossing</title>
      <link>{local_http.url("/andes/border-crossing.html")}</link>
      <guid isPermaLink="false">harbour-2025-0305</guid>
      <pubDate>Wed, 05 Mar 2025 07:00:00 GMT</pubDate>
    </item>
  </channel>""",
    )
    local_http.add("/rss.xml", grown, content_type="application/rss+xml", etag='"v2"')

    report = only(poll(feed_kb))

    assert (report.new, report.unchanged, report.not_modified) == (1, 2, False)
    assert feed_kb.article_count() == 3
    assert len(local_http.requests_to("/world/grain-corridor.html")) == 1
    assert feeds_of(feed_kb).all()[0].etag == '"v2"'


def test_last_modified_is_sent_back(local_http: LocalHTTPServer, feed_kb: KnowledgeBase) -> None:
    serve_pages(local_http)
    stamp = "Wed, 05 Mar 2025 07:00:00 GMT"
    local_http.add(
        "/rss.xml",
        feed_text("rss20.xml", local_http),
        content_type="application/rss+xml",
        last_modified=stamp,
    )
    feeds_of(feed_kb).add(local_http.url("/rss.xml"))
    poll(feed_kb)

    assert only(poll(feed_kb)).not_modified
    assert local_http.requests_to("/rss.xml")[-1].header("if-modified-since") == stamp


# -- bad entries ---------------------------------------------------------------------------


def _rss(server: LocalHTTPServer, items: str) -> str:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Test wire</title>
<link>{server.url("/")}</link>{items}</channel></rss>"""


def _item(title: str, link: str | None, date: str | None, description: str = "") -> str:
    parts = [f"<title>{html.escape(title)}</title>"]
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if description:
        parts.append(f"<description>{html.escape(description)}</description>")
    return "<item>" + "".join(parts) + "</item>"


DATE = "Mon, 03 Mar 2025 12:00:00 GMT"
LONG_DESCRIPTION = (
    "Mediators said the ceasefire would hold through the weekend while both delegations "
    "studied a draft text on prisoner exchanges. A second round of talks is expected next "
    "week in Geneva, where officials hope to agree on monitoring along the front line."
)


def test_each_bad_entry_is_reported_and_the_rest_of_the_poll_goes_on(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase, feed_config: Config
) -> None:
    serve_pages(local_http)
    url = local_http.url
    local_http.add("/doc.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    local_http.redirect("/loop-a", "/loop-b")
    local_http.redirect("/loop-b", "/loop-a")
    local_http.slow("/slow.html", page("/world/grain-corridor.html", url("/slow.html")), 5.0)
    local_http.big("/huge.html", 10_000_000)
    local_http.add(
        "/undated.html",
        page("/asia/coast-guard.html", url("/undated.html"), dated=False),
    )
    local_http.status("/gone.html", 404)
    items = "".join(
        [
            _item(
                "Baltic states agree joint air defence plan",
                url("/world/baltic-air-defence.html"),
                DATE,
            ),
            _item("A PDF", url("/doc.pdf"), DATE),
            _item("A loop", url("/loop-a"), DATE),
            _item("Too slow", url("/slow.html"), DATE),
            _item("Too big", url("/huge.html"), DATE),
            _item("No link at all", None, DATE, LONG_DESCRIPTION),
            _item("No date anywhere", url("/undated.html"), None),
            _item("Gone, but the entry has text", url("/gone.html"), DATE, LONG_DESCRIPTION),
        ]
    )
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    feeds_of(feed_kb).add(url("/rss.xml"), outlet="Test Wire")

    report = only(poll(feed_kb))

    reasons = {f.source: f.reason for f in report.failed}
    assert report.new == 2  # the good page, and the 404 saved by the entry's own text
    assert "not an HTML page" in reasons[url("/doc.pdf")]
    assert "redirect loop" in reasons[url("/loop-a")]
    assert "timed out" in reasons[url("/slow.html")]
    assert "larger than" in reasons[url("/huge.html")]
    assert "no link" in reasons["No link at all"]
    assert "no publication date" in reasons[url("/undated.html")]
    assert [f.source for f in report.from_feed_content] == [url("/gone.html")]
    assert "404" in report.from_feed_content[0].reason
    titles = set(stored(feed_kb))
    assert titles == {
        "Baltic states agree joint air defence plan",
        "Gone, but the entry has text",
    }
    gone = stored(feed_kb)["Gone, but the entry has text"]
    assert gone.text == LONG_DESCRIPTION  # type: ignore[attr-defined]


def test_failed_entries_are_retried_up_to_max_attempts(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    local_http.status("/flaky.html", 503)
    items = _item("Flaky", local_http.url("/flaky.html"), DATE)
    local_http.add(
        "/rss.xml", _rss(local_http, items), content_type="application/rss+xml", etag='"x"'
    )
    feeds_of(feed_kb).add(local_http.url("/rss.xml"))

    now = datetime(2025, 3, 10, 12, 0)
    first = only(poll(feed_kb, clock=stopped_at(now)))
    assert len(first.failed) == 1 and "503" in first.failed[0].reason
    # A failed entry keeps the validators back: no 304 hides it next time.
    local_http.add("/flaky.html", page("/world/grain-corridor.html", local_http.url("/flaky.html")))
    # One poll interval later the entry's next try is due.
    second = only(poll(feed_kb, clock=stopped_at(now + timedelta(minutes=30))))

    assert not second.not_modified
    assert second.new == 1 and feed_kb.article_count() == 1


def test_an_entry_that_keeps_failing_is_given_up_after_max_attempts(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    local_http.status("/broken.html", 500)
    items = _item("Broken", local_http.url("/broken.html"), DATE)
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    feeds_of(feed_kb).add(local_http.url("/rss.xml"))

    days = [datetime(2025, 3, day, 12, 0) for day in (10, 11, 12, 13)]  # each try is due
    attempts = [len(only(poll(feed_kb, clock=stopped_at(day))).failed) for day in days]

    assert attempts == [1, 1, 1, 0]  # max_attempts = 3
    assert len(local_http.requests_to("/broken.html")) == 3


# -- back-off and scheduling ---------------------------------------------------------------


def test_a_failing_feed_backs_off_and_the_others_stay_due(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    local_http.status("/down.xml", 500)
    store = feeds_of(feed_kb)
    store.add(local_http.url("/down.xml"))
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml")

    first = poll(feed_kb)
    down = next(f for f in first.feeds if f.url.endswith("/down.xml"))
    assert down.error is not None and "HTTP 500" in down.error
    assert down.retry_in == timedelta(minutes=60)  # 2 × the 30 min interval

    second = poll(feed_kb)
    down = next(f for f in second.feeds if f.url.endswith("/down.xml"))
    assert down.retry_in == timedelta(minutes=120)
    state = next(f for f in store.all() if f.url.endswith("/down.xml"))
    assert state.failures == 2 and state.last_error is not None
    # Neither is due right now; both are once their time has come.
    assert store.due() == []
    later = datetime.now() + timedelta(hours=3)
    assert {f.url for f in store.due(later)} == {f.url for f in store.all()}

    local_http.add("/down.xml", _rss(local_http, ""), content_type="application/rss+xml")
    recovered = only(poll(feed_kb, [state]))
    assert recovered.error is None
    assert next(f for f in store.all() if f.url.endswith("/down.xml")).failures == 0


def test_a_poll_stopped_after_storing_but_before_marking_never_stores_twice(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml", etag='"v1"')

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies right after the articles were committed

    monkeypatch.setattr(FeedStore, "record_success", killed)
    with pytest.raises(KeyboardInterrupt):
        poll(feed_kb)
    monkeypatch.undo()
    assert feed_kb.article_count() == 2
    passages = feed_kb.passage_count()

    report = only(poll(feed_kb))

    # The validators were not advanced: the feed is read again, not answered with a 304,
    # and its entries are taken, recognised by URL, and stored nowhere twice.
    assert not report.not_modified
    assert report.new == 2
    assert report.ingest.unchanged == 2 and report.ingest.passages_embedded == 0
    assert feed_kb.article_count() == 2 and feed_kb.passage_count() == passages
    assert only(poll(feed_kb)).not_modified


def test_a_poll_cancelled_mid_ingest_finishes_the_write_then_resumes(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml")
    real_ingest = feed_kb.ingest_articles
    ingest_started = threading.Event()
    may_finish = threading.Event()

    def held_ingest(articles: list[ParsedArticle]) -> IngestReport:
        # Runs in the poller's worker thread: it signals that the write has begun, then
        # holds it open until the test has cancelled the poll, so the cancellation always
        # lands mid-ingest, whatever the machine's speed.
        ingest_started.set()
        may_finish.wait(timeout=30)
        return real_ingest(articles)

    monkeypatch.setattr(feed_kb, "ingest_articles", held_ingest)

    async def cancelled() -> None:
        async with Fetcher(feed_kb.config.fetch) as fetcher:
            poller = FeedPoller(feed_kb, feeds_of(feed_kb), fetcher, feed_kb.config)
            task = asyncio.create_task(poller.poll())
            await asyncio.to_thread(ingest_started.wait, 30)
            assert ingest_started.is_set() and not task.done()
            task.cancel()
            may_finish.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The cancellation waited for the write: it is committed, not cut off.
            assert feed_kb.article_count() == 2

    asyncio.run(cancelled())
    passages = feed_kb.passage_count()
    monkeypatch.undo()
    report = only(poll(feed_kb))

    # The entries were never marked taken, so the next poll reads them again and finds
    # them stored: nothing is lost, nothing is stored twice.
    assert report.new == 2
    assert report.ingest.unchanged == 2 and report.ingest.passages_embedded == 0
    assert feed_kb.article_count() == 2 and feed_kb.passage_count() == passages


# -- article pages by URL ------------------------------------------------------------------


def test_fetch_articles_returns_pages_and_failures(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    local_http.status("/missing.html", 404)

    async def run() -> tuple[list[object], list[object]]:
        async with Fetcher(feed_kb.config.fetch) as fetcher:
            return await fetch_articles(  # type: ignore[return-value]
                fetcher,
                [local_http.url("/asia/mekong-dam.html"), local_http.url("/missing.html")],
                max_article_chars=100_000,
            )

    articles, failures = asyncio.run(run())

    assert [a.title for a in articles] == ["Mekong dam dispute goes to regional commission"]  # type: ignore[attr-defined]
    assert articles[0].published == datetime(2025, 3, 5)  # type: ignore[attr-defined]
    assert len(failures) == 1 and "404" in failures[0].reason  # type: ignore[attr-defined]


def test_an_unexpected_error_in_one_feed_does_not_end_the_poll(
    local_http: LocalHTTPServer,
    feed_kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import index.web.polling

    serve_pages(local_http)
    add_feed(feed_kb, local_http, "rss20.xml", "/rss.xml")
    local_http.add("/odd.xml", "<rss version='2.0'><channel><title>odd</title></channel></rss>")
    feeds_of(feed_kb).add(local_http.url("/odd.xml"))
    from index.web.feeds import parse_feed as real_parse

    def parse(data: bytes, *, url: str, headers: dict[str, str] | None = None) -> object:
        if url.endswith("/odd.xml"):
            raise RuntimeError("a bug")
        return real_parse(data, url=url, headers=headers)

    monkeypatch.setattr(index.web.polling, "parse_feed", parse)
    report = poll(feed_kb)

    by_url = {f.url: f for f in report.feeds}
    assert by_url[local_http.url("/rss.xml")].new == 2
    assert by_url[local_http.url("/odd.xml")].error == "internal error: a bug"
    assert "polling feed" in caplog.text and "RuntimeError" in caplog.text
