"""When feeds are polled: a pass over the feeds that are due, then a sleep until the next
one is due, again, until cancelled. The one schedule of the Discord bot's background
poller (`[discord] poll_feeds`) and of `geobot feeds run` (a poller without Discord).

Passes never overlap: a pass asked for while another runs (`/feeds poll` during the
background pass) waits for it, so no feed is polled twice at once. The sleep is at least
`min_seconds` (a feed always due cannot spin the loop) and at most `max_seconds` (feeds
added by another process are picked up); `wake()` ends it at once. The clock and the sleep
are injected, so a test runs several passes without waiting.

Stopping (`cancel()`) cancels the running pass; the poller lets a running ingest finish
(a thread cannot be stopped) and commits nothing half-done, so the next pass picks up
where this one stopped (see `index.web.polling`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from index.web.feed_store import Feed, FeedStore
from index.web.polling import FeedPoller, PollReport

__all__ = ["FeedPollLoop", "PollingStoppedError", "utc_now"]

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Now, as naive UTC to the second (the feed store's times)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


class PollingStoppedError(RuntimeError):
    """A pass was asked for after `cancel()`: the poller is stopping."""


class FeedPollLoop:
    """The schedule of one poller. Use from one event loop.

    `poll_due` is what a background pass runs (default: :meth:`poll_due`; the bot passes
    its own, which also refreshes its autocomplete); `on_pass` hears each pass's report.
    """

    def __init__(
        self,
        poller: FeedPoller,
        feeds: FeedStore,
        *,
        min_seconds: float = 5.0,
        max_seconds: float = 60.0,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_due: Callable[[], Awaitable[PollReport]] | None = None,
        on_pass: Callable[[PollReport], Awaitable[None]] | None = None,
    ) -> None:
        self.min_seconds = min_seconds
        self.max_seconds = max_seconds
        self._poller = poller
        self._feeds = feeds
        self._clock = clock
        self._sleep = sleep
        self._poll_due = poll_due or self.poll_due
        self._on_pass = on_pass
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._polls: set[asyncio.Future[PollReport]] = set()
        self._stopping = False

    async def poll(self, feeds: Sequence[Feed] | None = None) -> PollReport:
        """One pass over `feeds` (default: every feed), after any pass already running.
        Raises :class:`PollingStoppedError` once `cancel()` was called."""
        async with self._lock:
            if self._stopping:
                raise PollingStoppedError("the feed poller is stopping")
            # Registered so that cancel() can stop it and its caller wait for it.
            run = asyncio.ensure_future(self._poller.poll(feeds))
            self._polls.add(run)
            try:
                return await run
            finally:
                self._polls.discard(run)

    async def poll_due(self) -> PollReport:
        """One pass over the feeds whose time has come (none due: an empty report)."""
        due = await asyncio.to_thread(self._feeds.due, self._clock())
        if not due:
            return PollReport(feeds=(), seconds=0.0)
        return await self.poll(due)

    def wake(self) -> None:
        """End the current sleep now: look for due feeds (a feed was just added)."""
        self._wakeup.set()

    async def seconds_to_next_poll(self) -> float:
        next_due = await asyncio.to_thread(self._feeds.next_due_at)
        if next_due is None:
            return self.max_seconds
        wait = (next_due - self._clock()).total_seconds()
        return min(max(wait, self.min_seconds), self.max_seconds)

    async def run_forever(self) -> None:
        """Pass, sleep, pass... Nothing but cancellation ends it: an error in a pass is
        logged and the next pass comes as usual."""
        log.info("background feed polling started")
        while True:
            # Cleared before the pass: a feed added during it wakes the next one at once.
            self._wakeup.clear()
            try:
                report = await self._poll_due()
                if report.feeds:
                    log.info(
                        "polled %d feed(s) in %.1f s: %d new articles, %d failed",
                        len(report.feeds),
                        report.seconds,
                        report.new,
                        report.failed,
                    )
                if self._on_pass is not None:
                    await self._on_pass(report)
                wait = await self.seconds_to_next_poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background feed poll failed; trying again later")
                wait = self.max_seconds
            await self._sleep_unless_woken(wait)

    async def _sleep_unless_woken(self, seconds: float) -> None:
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()
        if sleeping.done() and not sleeping.cancelled():
            sleeping.result()  # an injected sleep's error ends the loop, as a bug should

    def cancel(self) -> set[asyncio.Future[Any]]:
        """Stop: no new pass starts, the running one is cancelled. Returns what was
        running, for the caller to wait on (a running ingest finishes first)."""
        self._stopping = True
        running: set[asyncio.Future[Any]] = set(self._polls)
        for poll in running:
            poll.cancel()
        return running
