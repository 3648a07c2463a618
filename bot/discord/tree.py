"""The command tree: the channel check every slash command passes, and its one `on_error`."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.discord.client_api import client_of
from bot.discord.errors import report_error

__all__ = ["ANY_CHANNEL", "GeobotTree"]

# The `extras` key of a command (or group) that is not limited to the answer channels.
ANY_CHANNEL = "any_channel"


class GeobotTree(app_commands.CommandTree[discord.Client]):
    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        # Commands about the bot itself (/settings, /status...) work in every channel, so
        # that a server can always change where the bot answers.
        command = interaction.command
        root = getattr(command, "root_parent", None) or command
        if root is not None and root.extras.get(ANY_CHANNEL):
            return True
        if not client_of(interaction).channel_allowed(interaction.channel):
            if interaction.type is discord.InteractionType.autocomplete:
                # An autocomplete can only answer with choices: none, here.
                await interaction.response.autocomplete([])
                return False
            raise app_commands.CheckFailure("I only answer in the channels set up for me.")
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)
