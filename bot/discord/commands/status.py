"""/status, open to everyone: how the bot is doing (uptime, gateway latency, articles and
their dates, feeds and the last poll, how this server's questions are answered)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands

from bot.discord.client_api import client_of
from bot.discord.server_messages import BotStatus, answering_mode, render_status
from bot.discord.text import NO_PINGS
from bot.discord.tree import ANY_CHANNEL

__all__ = ["COMMANDS", "status"]


@app_commands.command(extras={ANY_CHANNEL: True})
async def status(interaction: discord.Interaction[Any]) -> None:
    """How I am doing: uptime, latency, articles, feeds and how I answer here."""
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    stats = await client.offload(client.backend.kb.stats)
    feeds = await client.offload(client.feeds.all)
    policy = client.servers.policy(interaction.guild_id)
    writer = client.backend.service.writer
    report = BotStatus(
        uptime=datetime.now(UTC) - client.started_at,
        latency_seconds=client.latency,
        shard_count=client.shard_count,
        stats=stats,
        feeds=feeds,
        polling=client.poll_task is not None,
        mode=answering_mode(writer.model if writer else None, policy.written_answers),
    )
    await interaction.followup.send(
        embed=render_status(report), ephemeral=True, allowed_mentions=NO_PINGS
    )


COMMANDS: tuple[app_commands.Command[Any, Any, Any] | app_commands.Group, ...] = (status,)
