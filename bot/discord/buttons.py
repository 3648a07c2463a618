"""The bot's buttons: under an answer (show its passages, rate it) and under /sources.

The answer buttons are persistent: their custom ids ("passages:<answer id>",
"feedback:<answer id>:up|down") carry all they need, and the client registers them as
dynamic items, so they keep working after a restart. The /sources pager lives only as
long as its message's view (five minutes) and answers only to whoever ran /sources.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.answers.models import Answer
from bot.discord import render
from bot.discord.client_api import ClientAPI, client_of
from bot.discord.errors import UserError, report_error
from bot.discord.text import NO_PINGS

__all__ = ["FeedbackButton", "PassagesButton", "SourcesPager", "answer_view"]


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
            stored = await client.offload(client.backend.state.get_answer, self.answer_id)
            if stored is None:
                raise UserError("That answer is no longer stored.")
            await interaction.response.send_message(
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
            await client.offload(
                client.backend.state.record_feedback,
                self.answer_id,
                interaction.user.id,
                self.helpful,
            )
            await interaction.response.send_message(
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


class SourcesPager(discord.ui.View):
    """Previous / next page of /sources, for the person who asked."""

    def __init__(self, client: ClientAPI, owner: int, page: int, pages: int) -> None:
        super().__init__(timeout=300)
        self.client = client
        self.owner = owner
        self.page = page
        self.pages = pages
        self.previous.disabled = page <= 1
        self.next.disabled = page >= pages

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self.owner:
            await interaction.response.send_message(
                "Run /sources yourself to page through them.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return False
        return True

    async def _show(self, interaction: discord.Interaction[Any], page: int) -> None:
        embed, pages = await self.client.sources_page(page)
        self.page, self.pages = page, pages
        self.previous.disabled = page <= 1
        self.next.disabled = page >= pages
        await interaction.response.edit_message(embed=embed, view=self, allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._show(interaction, self.page + 1)

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        item: discord.ui.Item[Any],
    ) -> None:
        await report_error(interaction, error)
