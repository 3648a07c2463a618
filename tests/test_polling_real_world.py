"""Feed polls against a real local HTTP server, on what real-world feeds do: a charset given
only in the HTTP header (or contradicting the document), pages that fail, failed entries
competing with new ones, entries given up on, empty items, and ids that are not URLs."""

from __future__ import annotations

import asyncio
import html
from datetime import datetime, timedelta

import pytest
import test_polling
from feed_states import feeds_of
from local_http import LocalHTTPServer
from test_polling import DATE, LONG_DESCRIPTION, PAGE, _item, _rss, page, serve_pages

from index import Config, KnowledgeBase
from index.web.fetch import Fetcher
from index.web.polling import FeedPoller, FeedReport

# The knowledge base and fetch settings of test_polling.py's polls, shared.
feed_config = test_polling.feed_config
feed_kb = test_polling.feed_kb


class Clock:
    """The feed store's clock (naive UTC), which moves only when a test moves it: when a
    failed entry is due again is decided by it, never by the machine's speed."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 10, 12, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def poll_once(
    kb: KnowledgeBase, clock: Clock | None = None, config: Config | None = None
) -> FeedReport:
    store = feeds_of(kb, clock=clock or Clock())
    settings = config or kb.config

    async def run() -> FeedReport:
        async with Fetcher(settings.fetch) as fetcher:
            report = await FeedPoller(kb, store, fetcher, settings).poll()
        (only,) = report.feeds
        return only

    return asyncio.run(run())


def follow(kb: KnowledgeBase, server: LocalHTTPServer, path: str) -> None:
    feeds_of(kb).add(server.url(path))


def page_requests(server: LocalHTTPServer) -> list[str]:
    return [r.path for r in server.requests if not r.path.endswith(".xml")]


# -- 12: the charset of the HTTP header ----------------------------------------------------

# News in five scripts, each in a legacy charset that cannot be read as UTF-8; every text
# is long enough to stand as an article of its own (the pages are gone: the feed's text is
# what gets stored, so it shows exactly how the feed was decoded).
POLISH = (
    "Łódź: tramwaj wraca na ulicę Piotrkowską",
    "Władze Łodzi ogłosiły, że linia tramwajowa na ulicy Piotrkowskiej zostanie ponownie "
    "otwarta w przyszłym tygodniu. Remont torowiska trwał dziewięć miesięcy i kosztował "
    "więcej, niż zakładano. Mieszkańcy skarżyli się na objazdy, ale radni zapewniają, że "
    "nowe tory będą cichsze, a przejazd przez śródmieście szybszy.",
)
RUSSIAN = (
    "Переговоры о зерновом коридоре возобновятся в Стамбуле",
    "Делегации двух стран встретятся в Стамбуле на следующей неделе, чтобы обсудить "
    "безопасность судоходства в Чёрном море. Посредники надеются продлить соглашение ещё "
    "на шесть месяцев и расширить список портов, из которых разрешён вывоз зерна.",
)
RUSSIAN_BALTIC = (
    "Страны Балтии договорились о совместной системе противовоздушной обороны",
    "Министры обороны Эстонии, Латвии и Литвы подписали в Риге соглашение о совместной "
    "противовоздушной обороне. Радары трёх стран будут связаны в одну сеть в течение двух "
    "лет, а расходы на новые зенитные комплексы будут разделены поровну.",
)
ARABIC = (
    "قمة إقليمية في الدوحة لبحث أزمة المياه",
    "يجتمع وزراء الخارجية في الدوحة الأسبوع المقبل لمناقشة تقاسم مياه الأنهار بين دول "
    "المنطقة. ويأمل الوسطاء في التوصل إلى اتفاق مبدئي قبل نهاية الصيف، بينما تحذر منظمات "
    "الإغاثة من موجة جفاف جديدة تهدد ملايين المزارعين في القرى الواقعة على ضفاف الأنهار.",
)
JAPANESE = (
    "日本とフィリピンが海上保安協力で合意",
    "日本とフィリピンの両政府は、海上保安機関の合同訓練を年に二回行うことで合意した。"
    "両国の外相は東京で会談し、南シナ海での航行の自由を守るために協力を強化すると述べた。"
    "合意には巡視船の供与や情報共有の仕組みも含まれており、来年から段階的に実施される予定だ。"
    "専門家は、この合意が地域の安全保障に大きな影響を与えると見ている。"
    "一方で、近隣諸国の反応を注視する必要があるとの指摘もあり、政府は丁寧な説明を続ける方針だ。",
)


def _feed_bytes(
    server: LocalHTTPServer, story: tuple[str, str], encoding: str, declared: str | None
) -> bytes:
    title, text = story
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    document = f"""{declaration}<rss version="2.0"><channel><title>{html.escape(title)}</title>
<link>{server.url("/")}</link><item><title>{html.escape(title)}</title>
<link>{server.url("/gone.html")}</link><pubDate>{DATE}</pubDate>
<description>{html.escape(text)}</description></item></channel></rss>"""
    return document.encode(encoding)


@pytest.mark.parametrize(
    ("story", "encoding", "content_type", "declared"),
    [
        # The charset only in the header, no XML declaration.
        (POLISH, "iso-8859-2", "text/xml; charset=iso-8859-2", None),
        (RUSSIAN, "koi8-r", "application/rss+xml; charset=KOI8-R", None),
        (RUSSIAN_BALTIC, "windows-1251", 'application/rss+xml; charset="windows-1251"', None),
        (ARABIC, "windows-1256", "application/xml; charset=windows-1256", None),
        (JAPANESE, "shift_jis", "text/xml; charset=Shift_JIS", None),
        # Header and declaration disagree: RFC 3023 says the header wins.
        (RUSSIAN_BALTIC, "windows-1251", "application/rss+xml; charset=windows-1251", "koi8-r"),
        (JAPANESE, "shift_jis", "text/xml; charset=shift_jis", "utf-8"),
        (POLISH, "iso-8859-2", "application/atom+xml; charset=iso-8859-2", "windows-1252"),
        # No charset in the header: the declaration says it.
        (ARABIC, "windows-1256", "application/rss+xml", "windows-1256"),
    ],
)
def test_a_feed_is_decoded_by_the_charset_of_its_http_header(
    local_http: LocalHTTPServer,
    feed_kb: KnowledgeBase,
    story: tuple[str, str],
    encoding: str,
    content_type: str,
    declared: str | None,
) -> None:
    title, text = story
    assert len(text) >= 200  # long enough to be stored from the feed when the page is gone
    body = _feed_bytes(local_http, story, encoding, declared)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # a feed read as UTF-8 by mistake would not pass unseen
    local_http.add("/feed.xml", body, content_type=content_type)
    local_http.status("/gone.html", 410)
    follow(feed_kb, local_http, "/feed.xml")

    report = poll_once(feed_kb)

    assert (report.new, report.failed, report.error) == (1, (), None)
    (article,) = feed_kb.list_articles()
    assert article.title == title
    assert article.text == text
    assert feeds_of(feed_kb).all()[0].title == title


def test_relative_links_resolve_against_where_the_feed_was_after_redirects(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    local_http.add(
        "/world/feed.xml",
        _rss(local_http, _item("Baltic", "baltic-air-defence.html", DATE)),
        content_type="application/rss+xml",
    )
    local_http.redirect("/old-feed.xml", "/world/feed.xml", status=301)
    follow(feed_kb, local_http, "/old-feed.xml")

    report = poll_once(feed_kb)

    assert report.new == 1, report.failed
    assert page_requests(local_http) == ["/world/baltic-air-defence.html"]


# -- 13: a page that failed is reported as such --------------------------------------------


def test_a_failed_page_is_the_reason_given_even_when_the_entry_has_no_date(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    local_http.status("/gone.html", 404)
    local_http.add(
        "/undated.html", page("/asia/coast-guard.html", local_http.url("/x"), dated=False)
    )
    items = "".join(
        [
            _item("Gone and undated", local_http.url("/gone.html"), None, LONG_DESCRIPTION),
            _item("Gone, dated, short", local_http.url("/gone.html?2"), DATE, "A teaser."),
            _item("Fine but undated", local_http.url("/undated.html"), None),
        ]
    )
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    follow(feed_kb, local_http, "/rss.xml")

    report = poll_once(feed_kb)

    reasons = {f.source: f.reason for f in report.failed}
    gone = reasons[local_http.url("/gone.html")]
    assert gone.startswith("the page failed (HTTP 404 Not Found)"), gone
    assert "no publication date of its own" in gone
    short = reasons[local_http.url("/gone.html?2")]
    assert short.startswith("the page failed (HTTP 404") and "no article text" in short
    # Only a page that was fetched fine and has no date is reported as undated.
    undated = reasons[local_http.url("/undated.html")]
    assert undated == "no publication date: the entry has none and neither has its page"


# -- 14: new entries before retries, retries with back-off ---------------------------------


def story_page(name: str) -> str:
    return PAGE.format(
        title=f"Story {name}",
        site="Test Wire",
        author="A. Reporter",
        date_meta="",
        url=f"/p/{name}.html",
        paragraphs="".join(
            f"<p>Paragraph {i} of story {name}: envoys met again to discuss the truce.</p>"
            for i in range(4)
        ),
    )


def _dated_items(server: LocalHTTPServer, names: list[str], first_day: int) -> str:
    return "".join(
        _item(
            name,
            server.url(f"/p/{name}.html"),
            f"{first_day + i:02d} Mar 2025 12:00:00 GMT",
        )
        for i, name in enumerate(names)
    )


def test_entries_never_tried_come_before_retries(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    config = feed_kb.config.model_copy(
        update={"feeds": feed_kb.config.feeds.model_copy(update={"max_entries_per_poll": 4})}
    )
    clock = Clock()
    older = [f"old{i}" for i in range(5)]  # 1-5 March
    newer = [f"new{i}" for i in range(4)]  # 10-13 March: taken first, and they fail
    for name in older:
        local_http.add(f"/p/{name}.html", story_page(name))
    for name in newer:
        local_http.status(f"/p/{name}.html", 503)
    items = _dated_items(local_http, older, 1) + _dated_items(local_http, newer, 10)
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    follow(feed_kb, local_http, "/rss.xml")

    first = poll_once(feed_kb, clock, config)
    assert (first.new, len(first.failed), first.left_for_later) == (0, 4, 5)
    assert sorted(page_requests(local_http)) == [f"/p/{n}.html" for n in newer]

    local_http.clear_log()
    clock.advance(minutes=30)  # the failed ones are due again, but the new ones go first
    second = poll_once(feed_kb, clock, config)

    # The four newest of the entries never tried; the retries wait.
    assert sorted(page_requests(local_http)) == [f"/p/{n}.html" for n in older[1:]]
    assert (second.new, second.failed, second.left_for_later) == (4, (), 5)

    local_http.clear_log()
    third = poll_once(feed_kb, clock, config)

    # The last one never tried, then retries in the room left.
    assert sorted(page_requests(local_http)) == [
        "/p/new0.html",
        "/p/new1.html",
        "/p/new2.html",
        "/p/old0.html",
    ]
    assert (third.new, len(third.failed), third.left_for_later) == (1, 3, 1)
    assert feed_kb.article_count() == 5


def test_a_failed_entry_is_retried_after_a_wait_that_doubles(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    # poll_interval_minutes = 30, max_attempts = 3
    clock = Clock()
    local_http.status("/flaky.html", 503)
    items = _item("Flaky", local_http.url("/flaky.html"), DATE)
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    follow(feed_kb, local_http, "/rss.xml")

    tries: list[tuple[int, int]] = []
    for minutes in (0, 29, 1, 59, 1, 60 * 24):
        clock.advance(minutes=minutes)
        report = poll_once(feed_kb, clock)
        tries.append((len(report.failed), report.retry_later))

    assert tries == [
        (1, 0),  # 0 min: the first try fails; the next is due one poll interval later
        (0, 1),  # 29 min: waiting
        (1, 0),  # 30 min: the second try fails; the next is due two intervals later
        (0, 1),  # 89 min: waiting
        (1, 0),  # 90 min: the third and last try fails
        (0, 0),  # a day later: given up, not tried again
    ]
    assert len(local_http.requests_to("/flaky.html")) == 3
    assert report.given_up == 1 and report.unchanged == 0


# -- 15: entries given up on, empty items --------------------------------------------------


def test_given_up_and_empty_items_are_reported_as_such(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    clock = Clock()
    serve_pages(local_http)
    local_http.status("/broken.html", 500)
    items = "".join(
        [
            _item(
                "Baltic states agree joint air defence plan",
                local_http.url("/world/baltic-air-defence.html"),
                DATE,
            ),
            _item("Broken", local_http.url("/broken.html"), DATE),
            "<item></item>",
            "<item><title> </title><description></description></item>",
        ]
    )
    local_http.add("/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    follow(feed_kb, local_http, "/rss.xml")

    reports = []
    for _ in range(4):
        reports.append(poll_once(feed_kb, clock))
        clock.advance(days=1)

    first, last = reports[0], reports[-1]
    assert (first.new, len(first.failed), first.empty) == (1, 1, 2)
    assert [len(r.failed) for r in reports] == [1, 1, 1, 0]
    assert (last.new, last.unchanged, last.given_up, last.empty, last.failed) == (0, 1, 1, 2, ())


# -- 16: only a real link is fetched -------------------------------------------------------


def test_an_id_that_is_not_a_url_is_never_fetched(
    local_http: LocalHTTPServer, feed_kb: KnowledgeBase
) -> None:
    serve_pages(local_http)
    local_http.add("/right", "<html><body><p>Not an article</p></body></html>")
    absolute = local_http.url("/world/grain-corridor.html")
    items = f"""
<item><title>Id only</title><guid>right</guid><pubDate>{DATE}</pubDate></item>
<item><title>Words</title><guid>Incorrect Value</guid><pubDate>{DATE}</pubDate></item>
<item><title>Not a permalink</title><guid isPermaLink="false">{local_http.url("/right")}</guid>
<pubDate>{DATE}</pubDate></item>
<item><title>Id as permalink</title><guid>{absolute}</guid><pubDate>{DATE}</pubDate></item>
<item><title>Real link</title><link>/world/baltic-air-defence.html</link><guid>right-2</guid>
<pubDate>{DATE}</pubDate></item>"""
    local_http.add("/feeds/rss.xml", _rss(local_http, items), content_type="application/rss+xml")
    follow(feed_kb, local_http, "/feeds/rss.xml")

    report = poll_once(feed_kb)

    assert sorted(page_requests(local_http)) == [
        "/world/baltic-air-defence.html",
        "/world/grain-corridor.html",
    ]
    assert report.new == 2
    reasons = {f.source: f.reason for f in report.failed}
    assert reasons == {
        "Id only": "the entry has no link to an article",
        "Words": "the entry has no link to an article",
        "Not a permalink": "the entry has no link to an article",
    }
