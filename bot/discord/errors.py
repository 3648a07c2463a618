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

__all__ = ["UserError", "report_error", "tell_privately"]

log = logging.getLogger(__name__)


class UserError(Exception):
    """A problem the user can fix; shown as is, without an error id."""


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one place errors end: a short message to the user, the traceback to the log."""
    # Said in private: a public deferral would otherwise make the error public.
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
        await tell_privately(interaction, message)
    except discord.HTTPException:
        log.exception("could not tell the user about an error")


async def tell_privately(interaction: discord.Interaction[Any], message: str) -> None:
    """Send `message` to the interaction's user alone, whatever was sent before.

    After a public deferral ("geobot is thinking..."), Discord turns the first follow-up
    into that public message whatever flags it asks for; so the public placeholder is
    deleted first, and the follow-up then goes out ephemeral as asked. An autocomplete
    can only answer with choices: it gets none."""
    response = interaction.response
    if interaction.type is discord.InteractionType.autocomplete:
        if not response.is_done():
            await response.autocomplete([])
        return
    if not response.is_done():
        await response.send_message(message, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    if response.type is discord.InteractionResponseType.deferred_channel_message:
        try:
            original = await interaction.original_response()
            if original.flags.loading and not original.flags.ephemeral:
                await interaction.delete_original_response()
        except discord.HTTPException:
            log.warning("could not remove the public placeholder before an error message")
    await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_PINGS)
