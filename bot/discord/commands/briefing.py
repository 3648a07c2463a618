"""/briefing, for members with Manage Server: a daily briefing of the last 24 hours, posted
at a set time in a channel (`set`), one at once (`now`), or none (`off`).

The schedule lives in the bot's state (`bot.server_state.Briefing`) and the client's
`BriefingScheduler` posts it (`bot.discord.briefings`); the briefing itself is composed by
`bot.answers.briefing` and drawn by `bot.discord.briefing_render`.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import time
from functools import cache
from typing import Any

import discord
from discord import app_commands

from bot.discord.briefing_render import quiet_text, render_briefing
from bot.discord.briefings import next_post_at
from bot.discord.checks import require_manage_server
from bot.discord.client_api import client_of
from bot.discord.errors import UserError
from bot.discord.server_messages import render_briefing_set
from bot.discord.text import NO_PINGS, collapse, format_day
from bot.discord.tree import ANY_CHANNEL
from bot.server_state import Briefing

__all__ = ["COMMANDS", "briefing", "parse_time_of_day", "parse_timezone"]

briefing = app_commands.Group(
    name="briefing",
    description="A daily briefing of the news in a channel (Manage Server only)",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
    extras={ANY_CHANNEL: True},
)

CLOCK_TIME = re.compile(r"(\d{1,2})[:.h](\d{2})")


def parse_time_of_day(value: str) -> time:
    """ "08:30", "8:30", "8.30" or "8h30" (24-hour clock)."""
    match = CLOCK_TIME.fullmatch(value.strip())
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise UserError("`time` must be a time of day on the 24-hour clock, like 08:30 or 18:00.")


def parse_timezone(value: str | None) -> str:
    """An IANA time zone name ("Europe/Paris"), UTC when not given."""
    if value is None or not value.strip():
        return "UTC"
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(
            "`timezone` must be a time zone name like Europe/Paris or America/New_York "
            "(start typing to pick one)."
        ) from None
    return name


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


async def timezone_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    # From memory: no thread pool, so it answers at once even when every worker is busy.
    typed = current.strip().casefold().replace(" ", "_")
    return [app_commands.Choice(name=z, value=z) for z in _zones() if typed in z.casefold()][:25]


@briefing.command(name="set")
@app_commands.rename(at="time")
@app_commands.describe(
    channel="Where to post the briefing",
    at="When, on the 24-hour clock in the server's time zone, e.g. 08:00",
    topic="Only news about this topic, e.g. 'Black Sea shipping' (default: everything)",
    timezone="The server's time zone, e.g. Europe/Paris (start typing; default UTC)",
)
async def briefing_set(
    interaction: discord.Interaction[Any],
    channel: discord.TextChannel,
    at: app_commands.Range[str, 3, 5],
    topic: app_commands.Range[str, 1, 200] | None = None,
    timezone: app_commands.Range[str, 1, 64] | None = None,
) -> None:
    """Post a briefing of the last 24 hours every day at a set time (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    clock_time = parse_time_of_day(at)
    zone = parse_timezone(timezone)
    guild = interaction.guild
    assert guild is not None  # guild_only
    posting = guild.get_channel(channel.id)
    if isinstance(posting, discord.TextChannel) and guild.me is not None:
        allowed = posting.permissions_for(guild.me)
        if not (allowed.send_messages and allowed.embed_links):
            raise UserError(
                f"I can't post in <#{channel.id}>: I need to send messages and embed links there."
            )
    await interaction.response.defer(thinking=True, ephemeral=True)
    store = client.backend.state.servers
    previous = await client.offload(store.briefing, guild.id)
    candidate = Briefing(
        guild_id=guild.id,
        channel_id=channel.id,
        at=clock_time.strftime("%H:%M"),
        timezone=zone,
        topic=collapse(topic) if topic else None,
        last_day=previous.last_day if previous else None,
    )
    # A time already past today starts tomorrow; a day already posted stays posted.
    now = client.briefings.clock()
    today = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
    if next_post_at(candidate, now) == now:
        candidate = Briefing(**{**candidate.__dict__, "last_day": today})
    await client.offload(store.set_briefing, candidate)
    client.briefings.wake()
    first = next_post_at(candidate, now).astimezone(zoneinfo.ZoneInfo(zone))
    when = f"{format_day(first)} at {first:%H:%M}"
    await interaction.followup.send(
        render_briefing_set(candidate, when), ephemeral=True, allowed_mentions=NO_PINGS
    )


briefing_set.autocomplete("timezone")(timezone_choices)


@briefing.command(name="now")
@app_commands.describe(topic="Only news about this topic (default: the daily briefing's, if set)")
async def briefing_now(
    interaction: discord.Interaction[Any], topic: app_commands.Range[str, 1, 200] | None = None
) -> None:
    """Post a briefing of the last 24 hours here, now (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    guild_id = interaction.guild_id
    assert guild_id is not None
    await interaction.response.defer(thinking=True)
    if topic is None:
        scheduled = await client.offload(client.backend.state.servers.briefing, guild_id)
        topic = scheduled.topic if scheduled else None
    composed = await client.briefings.compose(guild_id, collapse(topic) if topic else None)
    messages = render_briefing(composed)
    if not messages:
        await interaction.followup.send(quiet_text(composed.topic), allowed_mentions=NO_PINGS)
        return
    for embeds in messages:
        await interaction.followup.send(embeds=embeds, allowed_mentions=NO_PINGS)


@briefing.command(name="off")
async def briefing_off(interaction: discord.Interaction[Any]) -> None:
    """Stop the daily briefing (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    guild_id = interaction.guild_id
    assert guild_id is not None
    await interaction.response.defer(ephemeral=True)
    removed = await client.offload(client.backend.state.servers.remove_briefing, guild_id)
    text = "The daily briefing is off." if removed else "There was no daily briefing to stop."
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (briefing,)
