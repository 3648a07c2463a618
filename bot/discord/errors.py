"""Where every error of a slash command or a button ends: `report_error`.

A problem the user can fix (`UserError`, or any `GeobotError` of the knowledge base) is
shown as is; anything else gets a short message with an error id, and the traceback goes
to the log under that id. The command tree's one `on_error` and the buttons (which have no
tree) call `report_error`; errors of mentions and DMs end in the client's `on_error`.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

import discord
from discord import app_commands

from bot.discord.text import NO_PINGS
from index import GeobotError

__all__ = ["UserError", "report_error"]

log = logging.getLogger(__name__)


class UserError(Exception):
    """A problem the user can fix; shown as is, without an error id."""


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one place errors end: a short message to the user, the traceback to the log."""
    original = getattr(error, "original", error)
    if isinstance(original, UserError | GeobotError):
        message = str(original)
    elif isinstance(error, app_commands.CheckFailure):
        message = str(error) or "You can't use this command here."
    else:
        error_id = uuid.uuid4().hex[:8]
        log.error(
            "error %s in interaction %s:\n%s",
            error_id,
            getattr(interaction.command, "name", interaction.type),
            "".join(traceback.format_exception(original)),
        )
        message = f"Sorry, something went wrong on my side (error `{error_id}`)."
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=NO_PINGS
            )
    except discord.HTTPException:
        log.exception("could not tell the user about an error")
