"""/settings: how the bot answers on this server. `/settings show` is open to everyone;
changing a setting needs Manage Server (checked when the command runs, since the group
itself stays visible for `show`). Settings are stored per server in the bot's state
(`bot.server_state`); one never set falls back to the config file's `[discord]` value.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

import discord
from discord import app_commands

from bot.discord.autocomplete import outlet_choices
from bot.discord.checks import require_manage_server
from bot.discord.client_api import ClientAPI, client_of
from bot.discord.errors import UserError
from bot.discord.options import parse_country, parse_outlet
from bot.discord.server_messages import render_settings
from bot.discord.text import NO_PINGS
from bot.discord.tree import ANY_CHANNEL
from bot.server_state import ServerSettings

__all__ = ["COMMANDS", "settings"]

settings = app_commands.Group(
    name="settings",
    description="How I answer on this server: show them, or change them (Manage Server)",
    guild_only=True,
    extras={ANY_CHANNEL: True},
)

MAX_CHANNELS = 25
MAX_SOURCES = 25


async def _changed(
    interaction: discord.Interaction[Any], client: ClientAPI, **changes: Any
) -> None:
    """Store the changes (deferred first: the write may wait for a busy thread pool),
    then show every setting in effect."""
    guild_id = interaction.guild_id
    assert guild_id is not None  # guild_only
    await interaction.response.defer(ephemeral=True)
    await client.offload(client.servers.store.update_settings, guild_id, **changes)
    await interaction.followup.send(
        "Saved.",
        embed=_settings_embed(interaction, client),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


def _settings_embed(interaction: discord.Interaction[Any], client: ClientAPI) -> discord.Embed:
    writer = client.backend.service.writer
    return render_settings(
        client.servers.policy(interaction.guild_id), model=writer.model if writer else None
    )


@settings.command(name="show")
async def settings_show(interaction: discord.Interaction[Any]) -> None:
    """Show how I answer on this server."""
    # From memory: no thread pool, so it answers at once even when every worker is busy.
    await interaction.response.send_message(
        embed=_settings_embed(interaction, client_of(interaction)),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


@settings.command(name="channels")
@app_commands.describe(
    action="add or remove an answer channel, or answer everywhere again",
    channel="The channel to add or remove (its threads follow it)",
)
async def settings_channels(
    interaction: discord.Interaction[Any],
    action: Literal["add", "remove", "everywhere"],
    channel: discord.TextChannel | None = None,
) -> None:
    """Choose the channels I answer in (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    if action == "everywhere":
        await _changed(interaction, client, answer_channel_ids=())
        return
    if channel is None:
        raise UserError(f"Name the `channel` to {action}.")
    policy = client.servers.policy(interaction.guild_id)
    current = list(policy.answer_channel_ids)
    if action == "add":
        if channel.id not in current:
            current.append(channel.id)
        if len(current) > MAX_CHANNELS:
            raise UserError(f"At most {MAX_CHANNELS} answer channels.")
    elif channel.id in current:
        current.remove(channel.id)
        if not current:
            raise UserError(
                "That is the last answer channel: use `everywhere` to answer in every channel."
            )
    else:
        raise UserError(f"<#{channel.id}> is not one of my answer channels.")
    await _changed(interaction, client, answer_channel_ids=tuple(current))


@settings.command(name="cooldown")
@app_commands.describe(seconds="Each member's pause between questions, in seconds (0: none)")
async def settings_cooldown(
    interaction: discord.Interaction[Any], seconds: app_commands.Range[float, 0, 3600]
) -> None:
    """Set the pause between a member's questions (Manage Server only)."""
    require_manage_server(interaction)
    await _changed(interaction, client_of(interaction), cooldown_seconds=float(seconds))


@settings.command(name="follow-ups")
@app_commands.describe(mode="thread: a mention's answer opens a thread; inline: replies in place")
async def settings_follow_ups(
    interaction: discord.Interaction[Any], mode: Literal["thread", "inline"]
) -> None:
    """Choose where a mention's answer and its follow-ups go (Manage Server only)."""
    require_manage_server(interaction)
    await _changed(interaction, client_of(interaction), follow_ups=mode)


@settings.command(name="written-answers")
@app_commands.describe(
    enabled="on: a language model writes answers (when one is set up); off: quotes"
)
async def settings_written_answers(interaction: discord.Interaction[Any], enabled: bool) -> None:
    """Turn written answers on or off here; quotes are always checked (Manage Server only)."""
    require_manage_server(interaction)
    await _changed(interaction, client_of(interaction), written_answers=enabled)


def _without(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v.casefold() != value.casefold())


def _with(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    kept = _without(values, value)
    if len(kept) >= MAX_SOURCES:
        raise UserError(f"At most {MAX_SOURCES} outlets or countries in one list.")
    return (*kept, value)


def source_changes(
    own: ServerSettings, action: str, outlet: str | None, country: str | None
) -> dict[str, tuple[str, ...]]:
    """The lists `/settings sources` changes: an outlet or a country moves to the prefer
    or the exclude list (leaving the other), or `clear` takes it off both (both whole
    lists, when neither is named)."""
    if action == "clear" and outlet is None and country is None:
        return {
            "prefer_outlets": (),
            "exclude_outlets": (),
            "prefer_countries": (),
            "exclude_countries": (),
        }
    if outlet is None and country is None:
        raise UserError(f"Name an `outlet` or a `country` to {action}.")
    changes: dict[str, tuple[str, ...]] = {}
    for kind, value in (("outlets", outlet), ("countries", country)):
        if value is None:
            continue
        prefer = _without(getattr(own, f"prefer_{kind}"), value)
        exclude = _without(getattr(own, f"exclude_{kind}"), value)
        if action == "prefer":
            prefer = _with(prefer, value)
        elif action == "exclude":
            exclude = _with(exclude, value)
        changes[f"prefer_{kind}"], changes[f"exclude_{kind}"] = prefer, exclude
    return changes


@settings.command(name="sources")
@app_commands.describe(
    action="prefer: rank it higher; exclude: never use it; clear: neither (all, if none named)",
    outlet="An outlet, e.g. Reuters (start typing its name)",
    country="A country of outlets: a two-letter code, e.g. GB",
)
async def settings_sources(
    interaction: discord.Interaction[Any],
    action: Literal["prefer", "exclude", "clear"],
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Prefer or leave out an outlet or a country's outlets here (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    guild_id = interaction.guild_id
    assert guild_id is not None
    own = client.servers.store.settings(guild_id)
    changes = source_changes(own, action, parse_outlet(outlet), parse_country(country))
    await _changed(interaction, client, **changes)


settings_sources.autocomplete("outlet")(outlet_choices)


@settings.command(name="reset")
async def settings_reset(interaction: discord.Interaction[Any]) -> None:
    """Go back to the bot's defaults on this server (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await _changed(interaction, client, **asdict(ServerSettings()))


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (settings,)
