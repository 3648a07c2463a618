"""Checks a slash command makes before it does anything: who may run it, and how often."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord.client_api import client_of
from bot.discord.errors import UserError

__all__ = ["check_cooldown", "require_manage_server"]


def check_cooldown(interaction: discord.Interaction[Any]) -> None:
    cooldowns = client_of(interaction).servers.cooldowns(interaction.guild_id)
    wait = cooldowns.remaining(interaction.user.id)
    if wait:
        raise UserError(f"Please wait {wait:.0f} s before asking again.")


def require_manage_server(interaction: discord.Interaction[Any]) -> None:
    """Checked when the command runs: Discord's permission hint alone can be overridden."""
    permissions = getattr(interaction.user, "guild_permissions", None)
    if interaction.guild is None or permissions is None or not permissions.manage_guild:
        raise UserError("Only members with the Manage Server permission can do that.")
