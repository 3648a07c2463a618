"""Feeds in the running bot: the background poller, `/feeds add|list|remove|poll`,
`/ingest url:` and `/ask`/`/search` limited to an outlet or a country.

The real bot on the real discord.py client talks to the fake Discord, and fetches feeds
and pages from a real local HTTP server (tests/local_http.py) serving tests/data/feeds/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.records import wait_until
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder
from local_http import LOCAL_HOSTS, LocalHTTPServer
from test_discord_bot import all_text, make_backend
from test_discord_bot import make_config as make_bot_config
from test_polling import feed_text, page, serve_pages

from bot.config import BotConfig
from bot.discord import Backend, GeobotClient, messages, render
from index import KnowledgeBase, ParsedArticle
from index.config import FeedsConfig, FetchConfig
from index.models import FailedInput
from index.web.feed_store import Feed, FeedStore
from index.web.polling import FeedReport, PollReport

fake_discord = fixtures.fake_discord

CORPUS_SIZE = 8  # what make_backend stores
SLOW_PAGE = "/world/grain-corridor.html"
EPHEMERAL = 64
SUPPRESS_EMBEDS = 4


# -- helpers ---------------------------------------------------------------------------------


def make_config(tmp_path: Path, fake: FakeDiscord, **discord_settings: object) -> BotConfig:
    config = make_bot_config(tmp_path, fake, **discord_settings)
    return config.model_copy(
        update={
            "fetch": FetchConfig(
                timeout_seconds=8.0, host_interval_seconds=0.0, allowed_hosts=LOCAL_HOSTS
            ),
            "feeds": FeedsConfig(poll_interval_minutes=30, max_backoff_minutes=240),
        }
    )


FeedSpec = tuple[str, str | None, str | None]  # url, outlet, country


def backend_with(
    config: BotConfig,
    *,
    feeds: Iterable[FeedSpec] = (),
    articles: Iterable[ParsedArticle] = (),
) -> Callable[[], Backend]:
    """make_backend, plus feeds followed (as `geobot feeds add` would) and articles."""
    wanted_feeds, wanted_articles = list(feeds), list(articles)

    def build() -> Backend:
        backend = make_backend(config)
        store = FeedStore(backend.kb.store)
        for url, outlet, country in wanted_feeds:
            store.add(url, outlet=outlet, country=country)
        if wanted_articles:
            backend.kb.ingest_articles(wanted_articles)
        return backend

    return build


def run_bot(
    fake: FakeDiscord,
    config: BotConfig,
    body: Callable[[GeobotClient], Awaitable[None]],
    *,
    backend: Callable[[], Backend] | None = None,
    poll_seconds: tuple[float, float] = (0.05, 0.5),
) -> None:
    """Run the bot against `fake` while `body` runs; the background poller looks for due
    feeds every `poll_seconds` (min, max) instead of every few seconds to a minute."""

    async def main() -> None:
        client = GeobotClient(config, backend or (lambda: make_backend(config)))
        client.poll_min_seconds, client.poll_max_seconds = poll_seconds
        async with run_client(client, fake):
            await body(client)

    asyncio.run(asyncio.wait_for(main(), timeout=90))


def add_feed_route(server: LocalHTTPServer, path: str, name: str = "rss20.xml") -> str:
    server.add(path, feed_text(name, server), content_type="application/rss+xml")
    return server.url(path)


def feed_named(client: GeobotClient, url: str) -> Feed:
    return next(f for f in client.feeds.all() if f.url == url)


def content(action: Any) -> str:
    return str(action.content or "")


def fields_of(action: Any) -> dict[str, str]:
    return {f["name"]: f["value"] for e in action.embeds for f in e.get("fields", [])}


def grain_article(outlet: str, country: str, day: int, text: str) -> ParsedArticle:
    return ParsedArticle(
        title=f"Grain corridor talks: {outlet} report",
        text=text,
        source=f"mem:grain-{country}",
        url=f"https://{country.lower()}.news.example/grain",
        outlet=outlet,
        country=country,
        published=datetime(2025, 3, day, 9, 0),
    )


GRAIN_GB = grain_article(
    "Harbour Wire",
    "GB",
    4,
    "Negotiators at the grain corridor talks discussed insurance for Black Sea cargo ships. "
    "British officials said the corridor talks would resume next week.",
)
GRAIN_SG = grain_article(
    "Meridian Post",
    "SG",
    5,
    "Negotiators at the grain corridor talks discussed inspections of Black Sea cargo ships. "
    "Asian buyers said the corridor talks would decide wheat prices.",
)


# -- the background poller -------------------------------------------------------------------


def test_background_poller_takes_a_feed_added_with_feeds_add_while_the_bot_answers(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    serve_pages(local_http)
    # One page is slow: the poll is still running while a question is asked.
    local_http.slow(SLOW_PAGE, page(SLOW_PAGE, local_http.url(SLOW_PAGE)), 4.0)
    url = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        assert client.poll_task is not None and not client.poll_task.done()
        added = await fake_discord.send_command(
            "feeds add",
            {"url": url, "outlet": "Harbour Wire", "country": "gb"},
            user=fake_discord.admin,
        )
        reply = await added.next("followup")
        assert reply.flags & EPHEMERAL
        assert "Added feed" in content(reply) and "Harbour Wire (GB)" in content(reply)

        await wait_until(
            lambda: local_http.requests_to(SLOW_PAGE), timeout=10, what="the poll to start"
        )
        asked = await fake_discord.send_command(
            "ask", {"question": "What did the mediators propose in the ceasefire talks?"}
        )
        answer = await asked.next("followup")
        assert "six-week truce" in all_text(answer)
        # Answered while the poll was still waiting for the slow page (4 s).
        assert client.backend.kb.article_count() == CORPUS_SIZE
        assert client.poll_task is not None and not client.poll_task.done()

        await wait_until(
            lambda: client.backend.kb.article_count() == CORPUS_SIZE + 2,
            timeout=20,
            what="the feed's entries to be stored",
        )
        await wait_until(
            lambda: feed_named(client, url).entries_ingested == 2, timeout=5, what="the marks"
        )
        feed = feed_named(client, url)
        assert feed.failures == 0 and feed.last_error is None and feed.last_polled_at
        found = client.backend.kb.find_articles("Baltic")
        assert found[0].outlet == "Harbour Wire" and found[0].country == "GB"
        assert len(local_http.requests_to("/rss.xml")) == 1  # not due again for 30 min

        listed = await fake_discord.send_command("feeds list", {}, user=fake_discord.admin)
        shown = await listed.next("followup")
        field = fields_of(shown)["Harbour Wire (GB)"]
        assert url in field and "2 articles" in field and "last poll" in field

    # The poller's usual bounds (5 s to 60 s between looks): `/feeds add` wakes it.
    run_bot(fake_discord, config, body, poll_seconds=(5.0, 60.0))


def test_a_failing_feed_backs_off_while_another_is_ingested(
    fake_discord: FakeDiscord,
    local_http: LocalHTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_pages(local_http)
    local_http.status("/down.xml", 500)
    down = local_http.url("/down.xml")
    good = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord)
    backend = backend_with(config, feeds=[(down, "Down Daily", None), (good, "Harbour Wire", None)])

    async def body(client: GeobotClient) -> None:
        await wait_until(
            lambda: (
                all(f.last_polled_at for f in client.feeds.all())
                and feed_named(client, good).entries_ingested == 2
            ),
            timeout=20,
            what="both feeds to be polled",
        )
        failing, working = feed_named(client, down), feed_named(client, good)
        assert failing.failures == 1 and "500" in (failing.last_error or "")
        assert failing.next_poll_at and failing.last_polled_at
        assert failing.next_poll_at - failing.last_polled_at == timedelta(minutes=60)
        assert working.failures == 0 and working.next_poll_at and working.last_polled_at
        assert working.next_poll_at - working.last_polled_at == timedelta(minutes=30)
        assert client.backend.kb.article_count() == CORPUS_SIZE + 2
        # The loop goes on every 0.05-0.5 s here, yet the failing feed is not tried again.
        await asyncio.sleep(1.0)
        assert len(local_http.requests_to("/down.xml")) == 1
        assert client.feeds.due() == []
        assert client.poll_task is not None and not client.poll_task.done()

    with caplog.at_level(logging.INFO, logger="bot.discord.app"):
        run_bot(fake_discord, config, body, backend=backend)
    records = [r for r in caplog.records if r.name == "bot.discord.app"]
    assert any(
        r.levelno == logging.WARNING and down in r.getMessage() and "500" in r.getMessage()
        for r in records
    )
    assert any(
        r.levelno == logging.INFO and good in r.getMessage() and "2 new" in r.getMessage()
        for r in records
    )


def test_an_error_in_a_poll_pass_is_logged_and_polling_goes_on(
    fake_discord: FakeDiscord,
    local_http: LocalHTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_pages(local_http)
    url = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord)
    backend = backend_with(config, feeds=[(url, None, None)])
    passes: list[str] = []

    class FlakyClient(GeobotClient):
        async def poll_due_feeds(self) -> PollReport:
            if not passes:
                passes.append("broken")
                raise RuntimeError("the disk hiccupped")
            passes.append("ok")
            return await super().poll_due_feeds()

    async def main() -> None:
        client = FlakyClient(config, backend)
        client.poll_min_seconds, client.poll_max_seconds = 0.05, 0.2
        async with run_client(client, fake_discord):
            await wait_until(
                lambda: client.backend.kb.article_count() == CORPUS_SIZE + 2,
                timeout=20,
                what="the next pass to poll the feed",
            )
            assert client.poll_task is not None and not client.poll_task.done()

    with caplog.at_level(logging.INFO, logger="bot.discord.app"):
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert passes[0] == "broken" and "ok" in passes
    assert "background feed poll failed" in caplog.text and "the disk hiccupped" in caplog.text


def test_close_while_a_poll_is_ingesting_waits_for_it_then_closes_the_kb(
    fake_discord: FakeDiscord,
    local_http: LocalHTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve_pages(local_http)
    url = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord)
    events: list[str] = []
    ingesting = threading.Event()

    def backend() -> Backend:
        made = backend_with(config, feeds=[(url, "Harbour Wire", "GB")])()
        kb, close = made.kb, made.close

        def slow_ingest(articles: Iterable[ParsedArticle]) -> Any:
            ingesting.set()
            time.sleep(1.0)
            report = KnowledgeBase.ingest_articles(kb, articles)
            events.append("ingest done")
            return report

        def recorded_close() -> None:
            events.append("kb closed")
            close()

        kb.ingest_articles = slow_ingest  # type: ignore[method-assign]
        made.close = recorded_close  # type: ignore[method-assign]
        return made

    async def body(client: GeobotClient) -> None:
        await wait_until(ingesting.is_set, timeout=20, what="the poll to start ingesting")
        task = client.poll_task
        assert task is not None
        await client.close()  # raises nothing
        assert task.done() and client.poll_task is None
        assert events == ["ingest done", "kb closed"]

    with caplog.at_level(logging.INFO, logger="bot.discord.app"):
        run_bot(fake_discord, config, body, backend=backend)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert events == ["ingest done", "kb closed"]  # a second close did nothing more
    # The ingest the shutdown waited for was committed.
    with KnowledgeBase.open(config, HashingEmbedder(dimension=256)) as kb:
        assert kb.article_count() == CORPUS_SIZE + 2


def test_background_polling_can_be_turned_off(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    serve_pages(local_http)
    url = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord, poll_feeds=False)
    backend = backend_with(config, feeds=[(url, None, None)])

    async def body(client: GeobotClient) -> None:
        assert client.poll_task is None
        await asyncio.sleep(0.5)
        assert local_http.requests_to("/rss.xml") == []

    run_bot(fake_discord, config, body, backend=backend)


# -- /feeds ----------------------------------------------------------------------------------


def test_feeds_add_list_remove_and_their_errors(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    url = local_http.url("/rss.xml")
    long_url = local_http.url("/feeds/" + "x" * 120 + ".xml")
    config = make_config(tmp_path, fake_discord, poll_feeds=False)
    admin = fake_discord.admin

    async def command(name: str, options: dict[str, Any], kind: str = "followup") -> Any:
        handle = await fake_discord.send_command(name, options, user=admin)
        return await handle.next(kind)

    async def body(client: GeobotClient) -> None:
        sync = await fake_discord.stream(lambda a: a.kind == "commands_sync").next()
        group = next(c for c in sync.payload if c["name"] == "feeds")
        assert group["dm_permission"] is False  # guild only
        manage_guild = discord.Permissions(manage_guild=True).value
        assert int(group["default_member_permissions"]) == manage_guild
        assert {o["name"] for o in group["options"]} == {"add", "list", "remove", "poll"}
        for sub in group["options"]:
            assert sub["description"] and all(o["description"] for o in sub.get("options", []))
        ingest = next(c for c in sync.payload if c["name"] == "ingest")
        assert {o["name"] for o in ingest["options"]} == {"file", "url"}

        # Members without Manage Server are refused, and nothing changes.
        for name, options in (("feeds add", {"url": url}), ("feeds list", {})):
            refused = await fake_discord.send_command(name, options, user=fake_discord.member)
            reply = await refused.next("callback")
            assert reply.flags & EPHEMERAL and "Manage Server" in content(reply)
        assert client.feeds.all() == []

        bad_url = await command("feeds add", {"url": "ftp://example.org/feed"}, "callback")
        assert bad_url.flags & EPHEMERAL and "http:// or https://" in content(bad_url)
        bad_country = await command("feeds add", {"url": url, "country": "G1"}, "callback")
        assert "two-letter country code" in content(bad_country)
        assert client.feeds.all() == []

        added = await command("feeds add", {"url": url, "outlet": "Harbour Wire"})
        assert added.flags & EPHEMERAL and added.flags & SUPPRESS_EMBEDS
        assert "Added feed" in content(added) and url in content(added)
        updated = await command("feeds add", {"url": url, "country": "gb"})
        assert "Updated feed" in content(updated) and "Harbour Wire (GB)" in content(updated)
        await command("feeds add", {"url": long_url, "outlet": "@everyone Gazette"})

        listing = await command("feeds list", {})
        fields = fields_of(listing)
        assert listing.embeds[0]["title"] == "Feeds (2 feeds)"
        assert url in fields["Harbour Wire (GB)"] and "never polled" in fields["Harbour Wire (GB)"]
        assert "next now" in fields["Harbour Wire (GB)"]
        assert "@everyone" not in all_text(listing) and listing.allowed_mentions == {"parse": []}

        # Autocomplete offers the stored feeds; a URL too long for a choice value goes by id.
        typed = await fake_discord.send_autocomplete(
            "feeds remove", {"url": "gazette"}, focused="url", user=admin
        )
        choices = (await typed.next("callback")).payload["data"]["choices"]
        assert len(choices) == 1 and choices[0]["value"].startswith("feed:")
        typed = await fake_discord.send_autocomplete(
            "feeds remove", {"url": ""}, focused="url", user=admin
        )
        values = [c["value"] for c in (await typed.next("callback")).payload["data"]["choices"]]
        assert url in values and len(values) == 2

        removed = await command("feeds remove", {"url": choices[0]["value"]})
        assert "Removed feed" in content(removed) and "x" * 120 in content(removed)
        removed = await command("feeds remove", {"url": url})
        assert "Removed feed" in content(removed) and "0 articles it brought stay" in content(
            removed
        )
        unknown = await command("feeds remove", {"url": url})
        assert unknown.flags & EPHEMERAL and "I don't follow the feed" in content(unknown)
        assert "/feeds list" in content(unknown)

        empty = await command("feeds list", {})
        assert "No feeds yet" in empty.embeds[0]["description"]
        nothing = await command("feeds poll", {})
        assert "No feeds yet" in content(nothing)

    run_bot(fake_discord, config, body)


def test_feeds_poll_reports_on_each_feed(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    serve_pages(local_http)
    local_http.status("/down.xml", 500)
    down = local_http.url("/down.xml")
    good = add_feed_route(local_http, "/rss.xml")
    config = make_config(tmp_path, fake_discord, poll_feeds=False)
    backend = backend_with(config, feeds=[(good, "Harbour Wire", "GB"), (down, None, None)])

    async def body(client: GeobotClient) -> None:
        refused = await fake_discord.send_command("feeds poll", {}, user=fake_discord.member)
        assert "Manage Server" in content(await refused.next("callback"))
        polled = await fake_discord.send_command("feeds poll", {}, user=fake_discord.admin)
        report = await polled.next("followup", timeout=30)
        text = content(report)
        assert report.flags & EPHEMERAL and report.flags & SUPPRESS_EMBEDS
        assert text.startswith("Polled 2 feeds") and "2 new articles, 1 failed" in text
        assert f"{good} (Harbour Wire): 2 new, 0 unchanged, 0 failed" in text
        assert f"{down}: failed:" in text and "500" in text and "next try in 1 h 0 min" in text
        assert client.backend.kb.article_count() == CORPUS_SIZE + 2

    run_bot(fake_discord, config, body, backend=backend)


# -- /ingest url: ----------------------------------------------------------------------------


def test_ingest_by_url_and_its_errors(
    fake_discord: FakeDiscord, local_http: LocalHTTPServer, tmp_path: Path
) -> None:
    serve_pages(local_http, site="Meridian Post")
    local_http.status("/missing.html", 404)
    config = make_config(tmp_path, fake_discord, poll_feeds=False)
    admin = fake_discord.admin
    upload = ("new.jsonl", b'{"title": "Fresh", "text": "A fresh report on rail strikes."}\n')

    async def body(client: GeobotClient) -> None:
        page_url = local_http.url("/asia/mekong-dam.html")
        refused = await fake_discord.send_command(
            "ingest", {"url": page_url}, user=fake_discord.member
        )
        assert "Manage Server" in content(await refused.next("callback"))

        added = await fake_discord.send_command("ingest", {"url": page_url}, user=admin)
        report = await added.next("followup")
        assert report.flags & EPHEMERAL
        assert "added 1, updated 0, unchanged 0, failed 0" in content(report)
        stored = client.backend.kb.find_articles("Mekong")
        assert stored and stored[0].title == "Mekong dam dispute goes to regional commission"
        assert stored[0].url == page_url

        again = await fake_discord.send_command("ingest", {"url": page_url}, user=admin)
        assert "unchanged 1" in content(await again.next("followup"))

        missing = await fake_discord.send_command(
            "ingest", {"url": local_http.url("/missing.html")}, user=admin
        )
        failed = content(await missing.next("followup"))
        assert "added 0" in failed and "failed 1" in failed and "404" in failed

        for options in ({}, {"url": page_url, "file": upload}):
            wrong = await fake_discord.send_command("ingest", options, user=admin)
            reply = await wrong.next("callback")
            assert reply.flags & EPHEMERAL and "either a `file` or a `url`" in content(reply)
        not_web = await fake_discord.send_command(
            "ingest", {"url": "file:///etc/passwd"}, user=admin
        )
        assert "http:// or https://" in content(await not_web.next("callback"))
        assert client.backend.kb.article_count() == CORPUS_SIZE + 1

    run_bot(fake_discord, config, body)


# -- /ask and /search by outlet or country ---------------------------------------------------


def test_ask_and_search_limited_to_a_country_or_an_outlet(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord, poll_feeds=False)
    backend = backend_with(config, articles=[GRAIN_GB, GRAIN_SG])
    question = "What did negotiators discuss at the grain corridor talks?"

    async def body(client: GeobotClient) -> None:
        for code, credit, other in (
            ("sg", "Meridian Post (SG), 5 Mar 2025", "Harbour Wire"),
            ("GB", "Harbour Wire (GB), 4 Mar 2025", "Meridian Post"),
        ):
            asked = await fake_discord.send_command("ask", {"question": question, "country": code})
            answer = await asked.next("followup")
            sources = fields_of(answer)["Sources"]
            assert credit in sources and other not in all_text(answer)

        by_outlet = await fake_discord.send_command(
            "ask", {"question": question, "outlet": "meridian post"}
        )
        assert "Harbour Wire" not in all_text(await by_outlet.next("followup"))
        nowhere = await fake_discord.send_command("ask", {"question": question, "country": "FR"})
        assert "Grain corridor talks:" not in all_text(await nowhere.next("followup"))
        bad = await fake_discord.send_command("ask", {"question": question, "country": "G1"})
        reply = await bad.next("callback")
        assert reply.flags & EPHEMERAL and "two-letter country code" in content(reply)

        search = await fake_discord.send_command(
            "search", {"query": "grain corridor talks", "country": "gb"}
        )
        hits = all_text(await search.next("followup"))
        assert "Harbour Wire (GB), 4 Mar 2025" in hits and "Meridian Post" not in hits
        search = await fake_discord.send_command(
            "search", {"query": "grain corridor talks", "outlet": "Meridian Post"}
        )
        hits = all_text(await search.next("followup"))
        assert "Meridian Post (SG)" in hits and "Harbour Wire" not in hits

        typed = await fake_discord.send_autocomplete(
            "ask", {"question": question, "outlet": "merid"}, focused="outlet"
        )
        choices = (await typed.next("callback")).payload["data"]["choices"]
        assert [c["value"] for c in choices] == ["Meridian Post"]

    run_bot(fake_discord, config, body, backend=backend)


# -- rendering within Discord's limits -------------------------------------------------------


def _feed(number: int, url: str, outlet: str | None, error: str | None) -> Feed:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return Feed(
        id=number,
        url=url,
        outlet=outlet,
        country="GB",
        title=None,
        etag=None,
        last_modified=None,
        added_at=now,
        last_polled_at=now,
        last_success_at=None,
        last_error=error,
        failures=3 if error else 0,
        next_poll_at=now + timedelta(hours=2),
        entries_ingested=number,
        entries_failed=1,
    )


def test_feeds_list_and_poll_report_stay_within_discord_limits() -> None:
    hostile = "@everyone <@&123456789012345678> " * 20
    feeds = [
        _feed(i, f"https://feeds.example/{i}/" + "a" * 1500, hostile, hostile * 3)
        for i in range(60)
    ]
    embed = render.render_feeds(feeds)
    assert render._fits([embed])
    assert embed.footer.text and "more feeds not shown" in embed.footer.text
    text = json.dumps(embed.to_dict(), ensure_ascii=False)
    assert "@everyone" not in text and "<@&123456789012345678>" not in text
    assert 0 < len(embed.fields) < 60

    reports = tuple(
        FeedReport(
            url=f"https://feeds.example/{i}.xml",
            outlet=hostile,
            new=1,
            failed=tuple(FailedInput(f"https://x.example/{j}", hostile) for j in range(20)),
        )
        for i in range(40)
    )
    message = messages.render_poll_report(PollReport(feeds=reports, seconds=1.5))
    assert len(message) <= 2000 and message.startswith("Polled 40 feeds")
    assert "more feeds (see `/feeds list`)" in message
    assert "@everyone" not in message and "<@&" not in message


def test_poll_report_names_retries_given_up_and_empty_items() -> None:
    quiet = FeedReport(url="https://feeds.example/a.xml", outlet="Wire A", new=2, unchanged=5)
    busy = FeedReport(
        url="https://feeds.example/b.xml",
        outlet=None,
        new=1,
        unchanged=3,
        failed=(FailedInput("https://x.example/1", "the page failed (HTTP 404 Not Found)"),),
        retry_later=2,
        given_up=4,
        empty=3,
        left_for_later=6,
    )

    message = messages.render_poll_report(PollReport(feeds=(quiet, busy), seconds=2.0))

    lines = message.splitlines()
    assert lines[0] == "Polled 2 feeds in 2.0 s: 3 new articles, 1 failed."
    assert lines[1] == "https://feeds.example/a.xml (Wire A): 2 new, 5 unchanged, 0 failed"
    assert lines[2] == (
        "https://feeds.example/b.xml: 1 new, 3 unchanged, 1 failed, 2 waiting to be retried, "
        "4 given up after repeated failures, 3 empty items skipped, 6 left for the next poll"
    )
    assert lines[3] == "  failed: https://x.example/1: the page failed (HTTP 404 Not Found)"
