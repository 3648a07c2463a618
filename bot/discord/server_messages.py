"""The bot's texts about itself and each server: /status, /settings show, /briefing
replies. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import discord

from bot.discord.server_settings import GuildPolicy
from bot.discord.text import format_day, format_time, one_line, plain_line
from bot.server_state import Briefing
from index import StoreStats
from index.web.feed_store import Feed

__all__ = [
    "BotStatus",
    "answering_mode",
    "format_duration",
    "render_briefing_set",
    "render_settings",
    "render_status",
]

COLOUR = discord.Colour.blurple()
FIELD_MAX = 1024


@dataclass(frozen=True)
class BotStatus:
    uptime: timedelta
    latency_seconds: float  # nan or inf before the first heartbeat
    shard_count: int | None  # None: not sharded
    stats: StoreStats
    feeds: Sequence[Feed]
    polling: bool
    mode: str  # answering_mode()


def format_duration(span: timedelta) -> str:
    """ "3 d 4 h", "2 h 5 min", "40 s"."""
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def answering_mode(model: str | None, written_answers: bool) -> str:
    """How a server's questions are answered: `model` is the writer's (None: none set)."""
    if model is None:
        return "quoted sentences (no language model is set up)"
    if not written_answers:
        return "quoted sentences (written answers are off on this server)"
    shown = plain_line(model.replace("`", "'"), 80)
    return f"written by `{shown}`, every sentence checked against its sources"


def _feeds_line(feeds: Sequence[Feed], polling: bool) -> str:
    if not feeds:
        return "none (`/feeds add` follows one)"
    noun = "feed" if len(feeds) == 1 else "feeds"
    polled = [f.last_polled_at for f in feeds if f.last_polled_at is not None]
    last = f"last poll {format_time(max(polled))}" if polled else "not polled yet"
    failing = sum(1 for f in feeds if f.last_error)
    text = f"{len(feeds)} {noun}, {last}"
    if failing:
        text += f", {failing} failing (`/feeds list`)"
    if not polling:
        text += "; background polling is off"
    return text


def render_status(status: BotStatus) -> discord.Embed:
    embed = discord.Embed(title="Status", colour=COLOUR)
    embed.add_field(name="Up for", value=format_duration(status.uptime))
    latency = status.latency_seconds
    embed.add_field(
        name="Gateway latency",
        value=f"{latency * 1000:.0f} ms" if math.isfinite(latency) else "not measured yet",
    )
    if status.shard_count is not None:
        embed.add_field(name="Shards", value=str(status.shard_count))
    stats = status.stats
    span = (
        f"dated {format_day(stats.earliest)} to {format_day(stats.latest)}"
        if stats.earliest is not None
        else "none dated"
    )
    embed.add_field(name="Articles", value=f"{stats.articles}, {span}", inline=False)
    embed.add_field(name="Feeds", value=_feeds_line(status.feeds, status.polling), inline=False)
    embed.add_field(name="Answers", value=status.mode[:FIELD_MAX], inline=False)
    return embed


def _listed(values: Sequence[str]) -> str:
    return ", ".join(one_line(v, 100) for v in values) or "none"


def render_settings(policy: GuildPolicy, *, model: str | None) -> discord.Embed:
    """/settings show: each setting in effect, and whether the server set it."""
    own = policy.overrides

    def origin(value: object) -> str:
        return "" if value is None else " (set here)"

    channels = (
        ", ".join(f"<#{c}>" for c in policy.answer_channel_ids)
        if policy.answer_channel_ids
        else "every channel"
    )
    cooldown = policy.cooldown_seconds
    embed = discord.Embed(title="Settings on this server", colour=COLOUR)
    lines = [
        f"**Answer channels:** {channels}{origin(own.answer_channel_ids)}",
        f"**Cooldown:** {f'{cooldown:g} s' if cooldown else 'off'}{origin(own.cooldown_seconds)}",
        f"**Follow-ups:** {'in a thread' if policy.follow_ups == 'thread' else 'inline replies'}"
        f"{origin(own.follow_ups)}",
        f"**Answers:** {answering_mode(model, policy.written_answers)}"
        f"{origin(own.written_answers)}",
        f"**Preferred outlets:** {_listed(own.prefer_outlets)}",
        f"**Left-out outlets:** {_listed(own.exclude_outlets)}",
        f"**Preferred countries:** {_listed(own.prefer_countries)}",
        f"**Left-out countries:** {_listed(own.exclude_countries)}",
    ]
    embed.description = "\n".join(lines)[:4096]
    embed.set_footer(text="Members with Manage Server change these with /settings.")
    return embed


def render_briefing_set(briefing: Briefing, first: str) -> str:
    topic = f" about “{one_line(briefing.topic, 200)}”" if briefing.topic else ""
    return (
        f"Every day at {briefing.at} ({briefing.timezone}) I'll post a briefing of the last "
        f"24 hours{topic} in <#{briefing.channel_id}>. The first: {first}. "
        "`/briefing now` posts one at once, `/briefing off` stops them."
    )
