"""`geobot feeds run`: the feed poller as a process of its own, without a Discord client
(the one process of a shared deployment that polls; every bot process then sets
`[discord] poll_feeds = false`). It runs the bot's own schedule (`FeedPollLoop`) and
prints one line per pass that polled feeds.

Stopping (SIGINT/SIGTERM set `stop`) cancels the running pass: an ingest already running
finishes and commits, nothing half-done is committed, and the next run picks up where
this one stopped. The clock and the sleep are injected, so a test runs passes without
waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.cli.rendering import format_moment
from index.config import Config
from index.knowledge_base import KnowledgeBase
from index.web.feed_store import FeedStore
from index.web.fetch import Fetcher
from index.web.poll_schedule import FeedPollLoop, utc_now
from index.web.polling import FeedPoller, PollReport

__all__ = ["describe_pass", "run_feed_poller"]


def describe_pass(report: PollReport, *, at: datetime, next_due: datetime | None) -> str:
    """One pass in one line: when, how many feeds, what came in, when the next is due."""
    feeds = f"{len(report.feeds)} feed" + ("" if len(report.feeds) == 1 else "s")
    failed = f", {report.failed} failed (see `geobot feeds list`)" if report.failed else ""
    upcoming = f"; next poll {format_moment(next_due)}" if next_due else ""
    return (
        f"{format_moment(at)}: polled {feeds} in {report.seconds:.1f} s: "
        f"{report.new} new articles{failed}{upcoming}"
    )


async def run_feed_poller(
    kb: KnowledgeBase,
    feeds: FeedStore,
    config: Config,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None],
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Poll `feeds` on their schedule until `stop` is set; then stop the running pass
    (letting a running ingest finish) and return."""
    async with Fetcher(config.fetch) as fetcher:
        poller = FeedPoller(kb, feeds, fetcher, config)

        async def on_pass(report: PollReport) -> None:
            if report.feeds:
                next_due = await asyncio.to_thread(feeds.next_due_at)
                say(describe_pass(report, at=clock(), next_due=next_due))

        schedule = FeedPollLoop(poller, feeds, clock=clock, sleep=sleep, on_pass=on_pass)
        runner = asyncio.create_task(schedule.run_forever(), name="geobot-feed-poller")
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            say("stopping: a running ingest finishes first")
        running = schedule.cancel()
        runner.cancel()
        stopper.cancel()
        await asyncio.wait({runner, stopper, *running})
        error = None if runner.cancelled() else runner.exception()
        if error is not None:
            raise error  # run_forever ends on nothing but a bug (or a test's sleep)
