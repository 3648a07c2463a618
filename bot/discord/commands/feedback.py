"""/feedback export, for members with Manage Server: this server's helpful / not helpful
votes as a CSV attachment (spreadsheet-safe: `bot.feedback_export`)."""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands

from bot.discord.checks import require_manage_server
from bot.discord.client_api import client_of
from bot.discord.errors import UserError
from bot.discord.text import NO_PINGS
from bot.discord.tree import ANY_CHANNEL
from bot.feedback_export import feedback_csv

__all__ = ["COMMANDS", "feedback", "feedback_export"]

feedback = app_commands.Group(
    name="feedback",
    description="The votes left on my answers (Manage Server only)",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
    extras={ANY_CHANNEL: True},
)


@feedback.command(name="export")
async def feedback_export(interaction: discord.Interaction[Any]) -> None:
    """Send this server's votes on my answers as a CSV file (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    votes = await client.offload(client.backend.state.feedback, guild_id=interaction.guild_id)
    if not votes:
        await interaction.followup.send(
            "No votes on my answers in this server yet.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return
    data = feedback_csv(votes).encode("utf-8")
    if len(data) > interaction.filesize_limit:
        raise UserError(
            f"The votes make a {len(data):,}-byte file, over Discord's "
            f"{interaction.filesize_limit:,}-byte limit: export them with "
            "`geobot feedback --format csv` on the bot's machine."
        )
    noun = "vote" if len(votes) == 1 else "votes"
    await interaction.followup.send(
        f"{len(votes)} {noun} on my answers in this server.",
        file=discord.File(io.BytesIO(data), filename="geobot-feedback.csv"),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (feedback,)
