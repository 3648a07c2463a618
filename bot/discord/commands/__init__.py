"""The slash commands, one module per group: `answering` (/ask /summary /search /sources
/help), `library` (/ingest /remove /stats), `feeds` (/feeds add|list|remove|poll),
`status` (/status), `settings` (/settings ...), `feedback` (/feedback export) and
`briefing` (/briefing set|now|off).

`register_commands` puts them all on a command tree, in the order Discord lists them.
"""

from __future__ import annotations

from typing import Any

from discord import app_commands

from bot.discord.commands import answering, briefing, feedback, feeds, library, settings, status

__all__ = ["register_commands"]


def register_commands(tree: app_commands.CommandTree[Any]) -> None:
    for command in (
        *answering.COMMANDS,
        *library.COMMANDS,
        *feeds.COMMANDS,
        *status.COMMANDS,
        *settings.COMMANDS,
        *feedback.COMMANDS,
        *briefing.COMMANDS,
    ):
        tree.add_command(command)
