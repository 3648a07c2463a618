"""The bot's buttons: under an answer (show its passages, rate it) and under /sources.

Every button is persistent: its custom id ("passages:<answer id>", "feedback:<answer
id>:up|down", "sources:<owner>:<page>:prev|next") carries all it needs, and the client
registers them as dynamic items, so they keep working after a restart. Each defers its
response first and does its work in the client's quick pool, so a click is acknowledged
within Discord's 3 seconds even while every answer worker is busy. The /sources pager
answers only to whoever ran /sources, and lives `SourcesPageButton.lifetime_seconds`:
then its buttons are disabled (by a timer, or at the first click after a restart).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import discord

from bot.answers.models import Answer
from bot.discord import render
from bot.discord.client_api import client_of
from bot.discord.errors import UserError, report_error
from bot.discord.text import NO_PINGS

log = logging.getLogger(__name__)

__all__ = [
    "FeedbackButton",
    "PassagesButton",
    "SourcesPageButton",
    "answer_view",
    "disable_sources_pager",
    "sources_view",
]


class PassagesButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"passages:(\d+)"):
    """Shows the quoted passages of an answer, to whoever clicks, and only to them."""

    def __init__(self, answer_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Show passages",
                style=discord.ButtonStyle.secondary,
                custom_id=f"passages:{answer_id}",
            )
        )
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> PassagesButton:
        return cls(int(match.group(1)))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = client_of(interaction)
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            stored = await client.offload_quick(client.backend.state.get_answer, self.answer_id)
            if stored is None:
                raise UserError("That answer is no longer stored.")
            await interaction.followup.send(
                embeds=render.render_passages(stored.answer),
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
        except Exception as error:  # buttons have no tree: errors end here
            await report_error(interaction, error)


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"feedback:(\d+):(up|down)"
):
    """Helpful / not helpful: one vote per person and answer, stored for `geobot feedback`."""

    def __init__(self, answer_id: int, helpful: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.success if helpful else discord.ButtonStyle.danger,
                custom_id=f"feedback:{answer_id}:{'up' if helpful else 'down'}",
            )
        )
        self.answer_id = answer_id
        self.helpful = helpful

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> FeedbackButton:
        return cls(int(match.group(1)), match.group(2) == "up")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = client_of(interaction)
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await client.offload_quick(
                client.backend.state.record_feedback,
                self.answer_id,
                interaction.user.id,
                self.helpful,
            )
            await interaction.followup.send(
                "Thanks, noted." if self.helpful else "Thanks, noted: I'll keep that in mind.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
        except Exception as error:  # buttons have no tree: errors end here
            await report_error(interaction, error)


def answer_view(answer_id: int, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if answer.citations:
        view.add_item(PassagesButton(answer_id))
    view.add_item(FeedbackButton(answer_id, True))
    view.add_item(FeedbackButton(answer_id, False))
    return view


class SourcesPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sources:(\d+):(\d+):(prev|next)",
):
    """Previous / next page of /sources, for the person who asked: the custom id holds
    the owner and the page the button shows."""

    # How long a list can be paged; then its buttons are disabled. Within the 15 minutes
    # an interaction token lives, so that the timer can still edit the message.
    lifetime_seconds: ClassVar[float] = 600.0

    def __init__(self, owner: int, page: int, direction: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Previous" if direction == "prev" else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sources:{owner}:{max(page, 0)}:{direction}",
                disabled=disabled,
            )
        )
        self.owner = owner
        self.page = page

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> SourcesPageButton:
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = client_of(interaction)
        try:
            if interaction.user.id != self.owner:
                await interaction.response.send_message(
                    "Run /sources yourself to page through them.",
                    ephemeral=True,
                    allowed_mentions=NO_PINGS,
                )
                return
            if pager_expired(interaction.message):
                await interaction.response.edit_message(
                    view=sources_view(self.owner, 1, 1, disabled=True)
                )
                await interaction.followup.send(
                    "This list has expired: run /sources again.",
                    ephemeral=True,
                    allowed_mentions=NO_PINGS,
                )
                return
            await interaction.response.defer()
            embed, pages = await client.sources_page(self.page)
            page = min(max(self.page, 1), pages)
            await interaction.edit_original_response(
                embed=embed, view=sources_view(self.owner, page, pages), allowed_mentions=NO_PINGS
            )
        except Exception as error:  # buttons have no tree: errors end here
            await report_error(interaction, error)


def pager_expired(message: discord.Message | None) -> bool:
    if message is None:
        return False
    age = (datetime.now(UTC) - message.created_at).total_seconds()
    return age > SourcesPageButton.lifetime_seconds


def sources_view(owner: int, page: int, pages: int, *, disabled: bool = False) -> discord.ui.View:
    """The pager under page `page` of `pages` of /sources, run by `owner`."""
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesPageButton(owner, page - 1, "prev", disabled=disabled or page <= 1))
    view.add_item(SourcesPageButton(owner, page + 1, "next", disabled=disabled or page >= pages))
    return view


async def disable_sources_pager(message: discord.Message) -> None:
    """The pager's end: its buttons stay, disabled."""
    try:
        await message.edit(view=sources_view(0, 1, 1, disabled=True))
    except discord.HTTPException:
        # Deleted, or the token expired: nothing left to disable, or nothing we can do.
        log.info("could not disable the /sources pager of message %s", message.id)
