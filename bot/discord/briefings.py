"""The daily briefings' scheduler: each server's briefing, posted once a day at its time.

`BriefingScheduler.tick` posts every briefing whose local time has come today and that
has not been posted today; `run_forever` ticks, then sleeps until the next one is due
(at most a minute, so a changed clock or time zone rule is caught). The time comes from
an injected clock, so tests drive the scheduler by moving a fake clock and calling
`tick`, with no wall-clock waits.

**Never twice a day.** A day is claimed in the state file (`ServerStore.claim_day`, one
SQL statement) *before* the briefing is sent: a second tick, a restart or a second
process finds it claimed. A send that fails before anything went out gives the day back
when the failure may pass (a 5xx, a dropped connection), so the next tick tries again;
when the channel is gone or closed to the bot, the day stays claimed and it is logged.

**Quiet days.** With no articles in the last 24 hours nothing is posted; the bot says so
once, and stays silent on the quiet days that follow until news comes in again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

import discord

from bot.answers.briefing import DailyBriefing, compose_briefing
from bot.config import BotConfig
from bot.discord.backend import Backend
from bot.discord.briefing_render import quiet_text, render_briefing
from bot.discord.server_settings import ServerPolicies
from bot.discord.text import NO_PINGS
from bot.server_state import Briefing

__all__ = [
    "BriefingOutcome",
    "BriefingScheduler",
    "Clock",
    "due_day",
    "next_post_at",
    "utc_now",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

Clock = Callable[[], datetime]  # an aware datetime: now

MIN_WAIT = 1.0
MAX_WAIT = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def _time_of(briefing: Briefing) -> time:
    return time.fromisoformat(briefing.at)


def due_day(briefing: Briefing, now: datetime) -> date | None:
    """The local day whose briefing is due at `now`, or None: its time has come in the
    server's time zone, and that day was not posted yet."""
    local = now.astimezone(ZoneInfo(briefing.timezone))
    if local.time().replace(tzinfo=None) < _time_of(briefing):
        return None
    if briefing.last_day is not None and briefing.last_day >= local.date():
        return None
    return local.date()


def next_post_at(briefing: Briefing, now: datetime) -> datetime:
    """When the briefing will next be posted (`now` when it is due)."""
    if due_day(briefing, now) is not None:
        return now
    zone = ZoneInfo(briefing.timezone)
    local = now.astimezone(zone)
    day = local.date()
    if local.time().replace(tzinfo=None) >= _time_of(briefing) or (
        briefing.last_day is not None and briefing.last_day >= day
    ):
        day += timedelta(days=1)
    return datetime.combine(day, _time_of(briefing), tzinfo=zone)


Result = Literal["posted", "quiet", "still quiet", "already posted", "failed"]


@dataclass(frozen=True)
class BriefingOutcome:
    guild_id: int
    day: date
    result: Result


class BriefingHost(Protocol):
    """What the scheduler uses of the client (`GeobotClient`)."""

    config: BotConfig

    @property
    def backend(self) -> Backend: ...

    @property
    def servers(self) -> ServerPolicies: ...

    async def offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def get_channel(self, channel_id: int, /) -> Any: ...

    async def fetch_channel(self, channel_id: int, /) -> Any: ...

    async def wait_until_ready(self) -> None: ...


class BriefingScheduler:
    def __init__(self, host: BriefingHost, clock: Clock = utc_now) -> None:
        self._host = host
        self.clock = clock
        self._lock = asyncio.Lock()  # one tick at a time
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look at the briefings again now (one was set or changed)."""
        self._wakeup.set()

    async def compose(self, guild_id: int, topic: str | None) -> DailyBriefing:
        """The briefing of the 24 hours up to now, under the server's source settings."""
        host = self._host
        now = self.clock().astimezone(UTC).replace(tzinfo=None)  # article dates: naive UTC
        return await host.offload(
            compose_briefing,
            host.backend.kb,
            until=now,
            topic=topic,
            sources=host.servers.policy(guild_id).sources,
            min_relevance=host.config.answers.min_relevance,
        )

    async def tick(self) -> list[BriefingOutcome]:
        """Post every briefing that is due now."""
        async with self._lock:
            store = self._host.backend.state.servers
            now = self.clock()
            outcomes = []
            for briefing in await self._host.offload(store.briefings):
                day = due_day(briefing, now)
                if day is not None:
                    outcomes.append(await self._post(briefing, day))
            return outcomes

    async def seconds_to_next(self) -> float:
        store = self._host.backend.state.servers
        briefings = await self._host.offload(store.briefings)
        now = self.clock()
        waits = [(next_post_at(b, now) - now).total_seconds() for b in briefings]
        return min(max(min(waits, default=MAX_WAIT), MIN_WAIT), MAX_WAIT)

    async def run_forever(self) -> None:
        await self._host.wait_until_ready()
        log.info("daily briefings scheduled")
        while True:
            self._wakeup.clear()
            try:
                await self.tick()
                wait = await self.seconds_to_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a briefing tick failed; trying again later")
                wait = MAX_WAIT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)

    async def _post(self, briefing: Briefing, day: date) -> BriefingOutcome:
        host = self._host
        store = host.backend.state.servers
        guild = briefing.guild_id
        if not await host.offload(store.claim_day, guild, day):
            return BriefingOutcome(guild, day, "already posted")
        sent = False
        try:
            composed = await self.compose(guild, briefing.topic)
            channel = host.get_channel(briefing.channel_id) or await host.fetch_channel(
                briefing.channel_id
            )
            if composed.quiet:
                if briefing.quiet_noted:
                    return BriefingOutcome(guild, day, "still quiet")
                await channel.send(quiet_text(briefing.topic), allowed_mentions=NO_PINGS)
                await host.offload(store.note_quiet, guild, True)
                return BriefingOutcome(guild, day, "quiet")
            for embeds in render_briefing(composed):
                await channel.send(embeds=embeds, allowed_mentions=NO_PINGS)
                sent = True
            await host.offload(store.note_quiet, guild, False)
            log.info("posted the %s briefing of server %s", day, guild)
            return BriefingOutcome(guild, day, "posted")
        except (discord.Forbidden, discord.NotFound):
            # Not a passing failure: retrying every minute would not help.
            log.warning(
                "cannot post the briefing of server %s in channel %s; skipped for %s",
                guild,
                briefing.channel_id,
                day,
                exc_info=True,
            )
            return BriefingOutcome(guild, day, "failed")
        except Exception:
            if not sent:  # nothing went out: the next tick may post it
                await host.offload(store.release_day, guild, day, briefing.last_day)
            log.exception("the %s briefing of server %s failed", day, guild)
            return BriefingOutcome(guild, day, "failed")
