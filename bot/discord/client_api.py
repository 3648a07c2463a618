"""The running client as slash commands, buttons and message handlers see it.

Handlers reach the client through `interaction.client`; `client_of` gives it the type
`ClientAPI`, the part of `bot.discord.app.GeobotClient` they may use. Handlers depend on
this protocol rather than on the client's module, because the client is the one that
imports them (to register the commands and the buttons).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

import discord

from bot.answers.models import Answer
from bot.config import BotConfig, DiscordConfig
from bot.discord.backend import Backend
from bot.discord.briefings import BriefingScheduler
from bot.discord.choices import ChoiceCache
from bot.discord.cooldowns import Cooldowns
from bot.discord.server_settings import ServerPolicies
from bot.discord.streaming import StreamedAnswer
from index.web.feed_store import Feed, FeedStore
from index.web.fetch import Fetcher
from index.web.polling import PollReport

__all__ = ["ClientAPI", "client_of"]

T = TypeVar("T")


class ClientAPI(Protocol):
    """What handlers use of the client (implemented by `GeobotClient`)."""

    config: BotConfig
    settings: DiscordConfig
    cooldowns: Cooldowns
    choices: ChoiceCache
    started_at: datetime
    shard_count: int | None  # None: one connection, not sharded
    briefings: BriefingScheduler

    @property
    def latency(self) -> float:
        """The gateway heartbeat's round trip, in seconds (nan or inf before the first)."""

    @property
    def servers(self) -> ServerPolicies:
        """Each server's settings in effect (loaded in `setup_hook`)."""

    @property
    def user(self) -> discord.ClientUser | None:
        """The bot's own user, once logged in."""

    @property
    def backend(self) -> Backend:
        """The answer service and the bot's records (loaded in `setup_hook`)."""

    @property
    def feeds(self) -> FeedStore:
        """The feeds the bot follows (loaded in `setup_hook`)."""

    @property
    def fetcher(self) -> Fetcher:
        """The one web fetcher of the bot's lifetime (made in `setup_hook`)."""

    @property
    def poll_task(self) -> asyncio.Task[None] | None:
        """The background poller (None when `discord.poll_feeds` is off or before setup)."""

    async def offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (retrieval, answering, SQLite) in the answer thread pool."""

    async def offload_quick(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run small blocking work in the quick pool, which answers never occupy."""

    def run_later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` in `delay` seconds, unless the bot closes first."""

    async def poll_feeds(self, feeds: list[Feed] | None = None) -> PollReport:
        """One poll pass over `feeds` (default: every feed), one pass at a time."""

    def wake_poller(self) -> None:
        """Have the background poller look for due feeds now."""

    def channel_allowed(self, channel: Any) -> bool:
        """Whether the bot answers in `channel` (`discord.allowed_channel_ids`)."""

    async def sources_page(self, page: int) -> tuple[discord.Embed, int]:
        """One page of /sources (clamped to the pages there are), and the page count."""

    def stream_answer(
        self, send: Callable[..., Awaitable[discord.Message | None]]
    ) -> StreamedAnswer:
        """A message that shows a written answer while it is written (its sentences as
        they pass their checks), sent through `send`; `send_answer` finishes it."""

    async def send_answer(
        self,
        answer: Answer,
        send: Callable[..., Awaitable[discord.Message | None]],
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        conversation: str | None,
        stream: StreamedAnswer | None = None,
    ) -> discord.Message | None:
        """Record `answer`, send it with its buttons through `send` (or as the final edit
        of `stream`), and remember the message it went out in (for the buttons and
        follow-ups)."""


def client_of(interaction: discord.Interaction[Any]) -> ClientAPI:
    """The client an interaction came to (always a `GeobotClient`)."""
    return cast(ClientAPI, interaction.client)
