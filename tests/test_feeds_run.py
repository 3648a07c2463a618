"""`geobot feeds run`: the feed poller without Discord, on the bot's own schedule
(`FeedPollLoop`), against a real local HTTP server. The clock and the sleep are fakes the
test moves: two passes half an hour apart run without waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from local_http import LocalHTTPServer
from test_cli import run
from test_cli_feeds import ENV
from test_polling import feed_text, serve_pages

from bot.cli import feed_poller
from index import Config, KnowledgeBase
from index.config import FeedsConfig
from index.models import ParsedArticle
from index.web.feed_store import FeedStore
from index.web.fetch import Fetcher
from index.web.poll_schedule import FeedPollLoop
from index.web.polling import FeedPoller, PollReport


class Clock:
    """Naive UTC that moves only when the fake sleep moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0)

    def __call__(self) -> datetime:
        return self.now


class HeldIngest:
    """Stands in for `KnowledgeBase.ingest_articles`: says when an ingest has started and
    holds it until released, so a test can act while a pass is mid-ingest."""

    def __init__(self, kb: KnowledgeBase, log: list[str] | None = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self._ingest = kb.ingest_articles
        self._log = log if log is not None else []

    def __call__(self, articles: Iterable[ParsedArticle]) -> Any:
        batch = list(articles)  # counted and ingested: an iterator is read once
        self.started.set()
        assert self.release.wait(30)
        self._log.append(f"ingest of {len(batch)}")
        return self._ingest(batch)


@pytest.fixture
def poll_kb(config: Config, fake_embedder: object) -> Iterator[KnowledgeBase]:
    from index import Embedder

    assert isinstance(fake_embedder, Embedder)
    polled = config.model_copy(
        update={
            "fetch": config.fetch.model_copy(
                update={"timeout_seconds": 2.0, "host_interval_seconds": 0.0}
            ),
            "feeds": FeedsConfig(poll_interval_minutes=30),
        }
    )
    kb = KnowledgeBase.open(polled, fake_embedder)
    yield kb
    kb.close()


def follow_feed(kb: KnowledgeBase, server: LocalHTTPServer, clock: Clock) -> FeedStore:
    serve_pages(server)
    server.add("/rss.xml", feed_text("rss20.xml", server), content_type="application/rss+xml")
    feeds = FeedStore(kb.store, clock=clock)
    feeds.add(server.url("/rss.xml"), outlet="Harbour Wire")
    return feeds


def poll_twice(kb: KnowledgeBase, feeds: FeedStore, clock: Clock) -> tuple[list[str], list[float]]:
    """Run `geobot feeds run`'s loop on the fake clock (each sleep moves it on) until it
    has printed two poll lines, then stop it: the lines it printed and the sleeps."""
    lines: list[str] = []
    sleeps: list[float] = []

    async def main() -> None:
        stop = asyncio.Event()

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)
            clock.now += timedelta(seconds=seconds)
            if len(lines) == 2:
                stop.set()
                await asyncio.Future()  # until cancelled

        await feed_poller.run_feed_poller(
            kb, feeds, kb.config, stop=stop, say=lines.append, sleep=fake_sleep, clock=clock
        )

    asyncio.run(asyncio.wait_for(main(), timeout=60))
    return lines, sleeps


def test_two_passes_half_an_hour_apart_on_a_fake_clock(
    poll_kb: KnowledgeBase, local_http: LocalHTTPServer
) -> None:
    clock = Clock()
    feeds = follow_feed(poll_kb, local_http, clock)
    lines, sleeps = poll_twice(poll_kb, feeds, clock)

    first, second, stopping = lines
    assert first.startswith("2026-01-01 12:00 UTC: polled 1 feed in "), first
    assert first.endswith(": 2 new articles; next poll 2026-01-01 12:30 UTC"), first
    # Between the passes the poller slept at most a minute at a time (feeds added by
    # another process are seen within a minute) until the feed was due again.
    assert sleeps[:30] == [60.0] * 30
    assert second.startswith("2026-01-01 12:30 UTC: polled 1 feed in "), second
    assert second.endswith(": 0 new articles; next poll 2026-01-01 13:00 UTC"), second
    assert stopping == "stopping: a running ingest finishes first"
    assert poll_kb.article_count() == 2


def test_a_feed_that_fails_is_counted_in_the_line_and_the_poller_goes_on(
    poll_kb: KnowledgeBase, local_http: LocalHTTPServer
) -> None:
    clock = Clock()
    local_http.status("/down.xml", 503)
    feeds = FeedStore(poll_kb.store, clock=clock)
    feeds.add(local_http.url("/down.xml"))
    lines, _ = poll_twice(poll_kb, feeds, clock)
    first, second, _ = lines
    # Backed off: one interval after the first failure... (at most max_backoff_minutes).
    assert first.endswith(
        "0 new articles, 1 failed (see `geobot feeds list`); next poll 2026-01-01 13:00 UTC"
    ), first
    assert second.startswith("2026-01-01 13:00 UTC: polled 1 feed"), second


def test_a_stop_during_an_ingest_lets_it_commit_and_the_next_poll_takes_nothing_twice(
    poll_kb: KnowledgeBase, local_http: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    feeds = follow_feed(poll_kb, local_http, clock)
    held = HeldIngest(poll_kb)
    monkeypatch.setattr(poll_kb, "ingest_articles", held)
    lines: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(
            feed_poller.run_feed_poller(
                poll_kb, feeds, poll_kb.config, stop=stop, say=lines.append, clock=clock
            )
        )
        assert await asyncio.to_thread(held.started.wait, 30)
        stop.set()
        while not lines:  # the poller has seen the stop and cancelled the pass
            await asyncio.sleep(0.01)
        held.release.set()
        await asyncio.wait_for(running, 30)

    asyncio.run(main())
    assert lines == ["stopping: a running ingest finishes first"]
    # The ingest committed; the pass was cut before its entries were marked taken, so the
    # next poll takes them again, and recognises the articles by their URL.
    assert poll_kb.article_count() == 2
    monkeypatch.undo()

    async def poll_again() -> PollReport:
        async with Fetcher(poll_kb.config.fetch) as fetcher:
            return await FeedPoller(poll_kb, feeds, fetcher, poll_kb.config).poll()

    again = asyncio.run(poll_again())
    assert again.new == 2 and again.feeds[0].ingest.added == 0
    assert poll_kb.article_count() == 2
    assert feeds.all()[0].entries_ingested == 2


def test_a_pass_asked_for_while_the_background_pass_runs_waits_for_it(
    poll_kb: KnowledgeBase, local_http: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    feeds = follow_feed(poll_kb, local_http, clock)
    order: list[str] = []
    held = HeldIngest(poll_kb, order)
    monkeypatch.setattr(poll_kb, "ingest_articles", held)

    async def main() -> None:
        async with Fetcher(poll_kb.config.fetch) as fetcher:
            schedule = FeedPollLoop(FeedPoller(poll_kb, feeds, fetcher, poll_kb.config), feeds)
            first = asyncio.create_task(schedule.poll())
            assert await asyncio.to_thread(held.started.wait, 30)
            second = asyncio.create_task(schedule.poll())
            await asyncio.sleep(0.05)
            assert not second.done()  # waiting for the first pass, not polling beside it
            held.release.set()
            assert (await first).new == 2
            order.append("first done")
            report = await second
            assert report.new == 0 and report.feeds[0].unchanged == 2

    asyncio.run(asyncio.wait_for(main(), 60))
    assert order == ["ingest of 2", "first done"]
    assert poll_kb.article_count() == 2  # the held ingest stored what it was given


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_geobot_feeds_run_stops_cleanly_on_a_signal(
    tmp_path: Path,
    local_http: LocalHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    signum: signal.Signals,
) -> None:
    data = tmp_path / "data"
    serve_pages(local_http)
    local_http.add("/rss.xml", feed_text("rss20.xml", local_http))
    assert run("feeds", "add", local_http.url("/rss.xml"), data_dir=data, env=ENV).exit_code == 0
    real = feed_poller.run_feed_poller

    async def signalled(*args: Any, **kwargs: Any) -> None:
        # The command's handlers are installed by now: the signal reaches them, not
        # Python's default handler.
        os.kill(os.getpid(), signum)
        await real(*args, **kwargs)

    monkeypatch.setattr(feed_poller, "run_feed_poller", signalled)
    result = run("feeds", "run", data_dir=data, env=ENV)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("polling 1 feed every 30 min"), lines
    assert lines[-2:] == ["stopping: a running ingest finishes first", "stopped"], lines
