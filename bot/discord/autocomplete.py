"""Autocomplete choices shared by several slash commands: articles and outlets.

They are read from the client's in-memory `ChoiceCache` (`bot.discord.choices`), never
from a thread: an autocomplete cannot be deferred, and must answer within Discord's 3
seconds even while every answer worker is busy.
"""

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
    matches = client_of(interaction).choices.articles(current, limit=25)
    return [app_commands.Choice(name=messages.choice_name(a), value=a.id) for a in matches]


async def outlet_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    counts = client_of(interaction).choices.outlets(current)
    return [
        app_commands.Choice(name=messages.outlet_choice_name(outlet, count), value=outlet)
        for outlet, count in counts
        if 1 <= len(outlet) <= 100
    ][:25]
