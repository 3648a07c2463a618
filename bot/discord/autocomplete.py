"""Autocomplete choices shared by several slash commands: articles and outlets."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.discord import messages
from bot.discord.client_api import client_of

__all__ = ["article_choices", "outlet_choices"]


async def article_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[int]]:
    client = client_of(interaction)
    matches = await client.offload(client.backend.kb.find_articles, current, limit=25)
    return [app_commands.Choice(name=messages.choice_name(a), value=a.id) for a in matches]


async def outlet_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    client = client_of(interaction)
    counts = await client.offload(client.backend.kb.store.outlet_counts)
    typed = current.strip().casefold()
    return [
        app_commands.Choice(name=messages.outlet_choice_name(outlet, count), value=outlet)
        for outlet, count in counts
        if typed in outlet.casefold() and 1 <= len(outlet) <= 100
    ][:25]
