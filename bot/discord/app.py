"""The Discord client: what runs while the bot is up.

`GeobotClient` loads the answer service once (`setup_hook`), runs all blocking work in a
thread pool (`offload`) so the gateway heartbeat is never starved, and the small quick
work of buttons and pages in a pool of its own (`offload_quick`) so that it never queues
behind answers; autocomplete reads an in-memory cache (`choices`). It answers mentions, DMs
and thread follow-ups (`bot.discord.conversations`), and closes everything in order. Its
command tree (`bot.discord.tree`) carries the slash commands (`bot.discord.commands`),
and it registers the persistent answer buttons (`bot.discord.buttons`).

While the bot runs it also polls the news feeds in the background (`FeedPollLoop`, the
schedule `geobot feeds run` uses too): each pass polls the feeds that are due, then sleeps
until the next one is due. Fetching is
async and extraction and ingestion run in worker threads, so a poll never blocks the bot;
a feed that fails backs off on its own schedule and never stops the others. It also
runs the daily briefings (`bot.discord.briefings`), and each server's settings are
answered from memory (`servers`, `bot.discord.server_settings`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import discord

from bot.answers.models import Answer
from bot.config import BotConfig
from bot.discord import render
from bot.discord.backend import Backend
from bot.discord.briefings import BriefingScheduler, Clock, utc_now
from bot.discord.buttons import FeedbackButton, PassagesButton, SourcesPageButton, answer_view
from bot.discord.choices import ChoiceCache, ChoiceSnapshot, load_choices
from bot.discord.command_sync import sync_commands
from bot.discord.commands import register_commands
from bot.discord.conversations import answer_message
from bot.discord.cooldowns import Cooldowns
from bot.discord.errors import UserError
from bot.discord.server_settings import ServerPolicies
from bot.discord.streaming import EditTiming, StreamedAnswer
from bot.discord.text import NO_PINGS
from bot.discord.tree import GeobotTree
from bot.feed_reports import describe_feed_report
from bot.feed_state import feed_store_on
from index.web.feed_store import Feed, FeedStore
from index.web.fetch import Fetcher
from index.web.poll_schedule import FeedPollLoop, PollingStoppedError
from index.web.polling import FeedPoller, FeedReport, PollReport

__all__ = ["GeobotClient", "ShardedGeobotClient", "build_client"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class GeobotClient(discord.Client):
    """The bot on Discord; slash commands and buttons use it as a `ClientAPI`."""

    # Bounds of the background poller's sleep between passes: at least this long (a feed
    # that is always due cannot spin the loop), at most this long (feeds added elsewhere,
    # e.g. with `geobot feeds add`, are picked up). `/feeds add` wakes it at once.
    poll_min_seconds: float = 5.0
    poll_max_seconds: float = 60.0

    def __init__(
        self,
        config: BotConfig,
        backend_factory: Callable[[], Backend],
        *,
        sync_commands: bool = True,
        force_sync: bool = False,
        clock: Clock = utc_now,
        schedule_briefings: bool = True,
        edit_timing: EditTiming | None = None,
    ) -> None:
        intents = discord.Intents.default()
        # Needed to read follow-ups in threads without a mention; mentions, DMs and
        # replies that ping the bot carry their content anyway.
        intents.message_content = config.discord.message_content
        super().__init__(
            intents=intents,
            allowed_mentions=NO_PINGS,
            guild_ready_timeout=config.discord.guild_ready_timeout,
        )
        self.config = config
        self.settings = config.discord
        self.tree = GeobotTree(self)
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.workers, thread_name_prefix="geobot-answer"
        )
        # Buttons, pages and the bot's records: tiny SQLite work that must not wait for
        # an answer worker (Discord wants a first response within 3 s).
        self._quick_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="geobot-quick")
        self.choices = ChoiceCache(self._load_choices)
        self._later: set[asyncio.Task[None]] = set()
        self.cooldowns = Cooldowns(self.settings.cooldown_seconds)
        self.started_at = datetime.now(UTC)
        self._servers: ServerPolicies | None = None
        # The daily briefings run on `clock`; without `schedule_briefings` nothing ticks
        # on its own (tests move a fake clock and call `briefings.tick`).
        self.briefings = BriefingScheduler(self, clock)
        self._schedule_briefings = schedule_briefings
        self._briefing_task: asyncio.Task[None] | None = None
        self._sync_commands = sync_commands
        self._force_sync = force_sync
        # When a streamed answer's message may be edited next (tests pass a fake clock).
        self.edit_timing = edit_timing or EditTiming(interval=self.settings.stream_edit_seconds)
        # Feeds: built in setup_hook, with the backend; one fetcher for the bot's lifetime.
        self._feeds: FeedStore | None = None
        self._fetcher: Fetcher | None = None
        self._schedule: FeedPollLoop | None = None
        self._poll_task: asyncio.Task[None] | None = None
        register_commands(self.tree)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("the backend is loaded in setup_hook")
        return self._backend

    @property
    def servers(self) -> ServerPolicies:
        if self._servers is None:
            raise RuntimeError("the server settings are loaded in setup_hook")
        return self._servers

    @property
    def feeds(self) -> FeedStore:
        if self._feeds is None:
            raise RuntimeError("the feeds are loaded in setup_hook")
        return self._feeds

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            raise RuntimeError("the fetcher is made in setup_hook")
        return self._fetcher

    @property
    def poll_task(self) -> asyncio.Task[None] | None:
        """The background poller (None when `discord.poll_feeds` is off or before setup)."""
        return self._poll_task

    async def setup_hook(self) -> None:
        # The model and the index load once, here, off the event loop.
        self._backend = await self.offload(self._backend_factory)
        self._servers = ServerPolicies(self._backend.state.servers, self.config, self.cooldowns)
        self._feeds = await self.offload(
            feed_store_on, self._backend.kb, self._backend.state.database
        )
        self._fetcher = Fetcher(self.config.fetch)
        poller = FeedPoller(
            self._backend.kb,
            self._feeds,
            self._fetcher,
            self.config,
            on_feed_done=log_feed_report,
        )
        self._schedule = FeedPollLoop(
            poller,
            self._feeds,
            min_seconds=self.poll_min_seconds,
            max_seconds=self.poll_max_seconds,
            poll_due=self.poll_due_feeds,
        )
        if self.settings.poll_feeds:
            self._poll_task = asyncio.create_task(
                self._schedule.run_forever(), name="geobot-feed-poller"
            )
        await self.choices.refresh()
        if self._schedule_briefings:
            self._briefing_task = asyncio.create_task(
                self.briefings.run_forever(), name="geobot-briefings"
            )
        self.add_dynamic_items(PassagesButton, FeedbackButton, SourcesPageButton)
        if self._sync_commands:
            await sync_commands(
                self,
                self.tree,
                self._backend.state,
                guild_id=self.settings.dev_guild_id,
                force=self._force_sync,
            )

    async def _load_choices(self) -> ChoiceSnapshot:
        return await self.offload_quick(load_choices, self.backend.kb, self.feeds)

    async def close(self) -> None:
        # Polls stop first: a cancelled poll lets a running ingest finish (a thread cannot
        # be stopped), and the knowledge base is closed only once every poll has ended.
        for task in self._later:
            task.cancel()
        await self.choices.close()
        polls = self._schedule.cancel() if self._schedule is not None else set()
        if self._poll_task is not None:
            polls.add(self._poll_task)
        if self._briefing_task is not None:
            polls.add(self._briefing_task)
        for poll in polls:
            poll.cancel()
        await super().close()
        if polls:
            await asyncio.wait(polls)
            for poll in polls:
                if not poll.cancelled() and poll.exception() is not None:
                    log.error("a feed poll ended with an error", exc_info=poll.exception())
        self._poll_task = self._briefing_task = None
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            await fetcher.aclose()
        # Queued answers are dropped, running ones finish: closing the knowledge base under
        # a running answer would pull its SQLite connection from under it.
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        await asyncio.to_thread(self._quick_executor.shutdown, wait=True, cancel_futures=True)
        backend, self._backend = self._backend, None
        if backend is not None:
            await asyncio.to_thread(backend.close)

    async def offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (retrieval, answering, SQLite) in the answer thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    async def offload_quick(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run small blocking work (a page of the list, a vote, a stored answer) in the
        quick pool, which answers never occupy."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._quick_executor, functools.partial(function, *args, **kwargs)
        )

    def run_later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` in `delay` seconds, unless the bot closes first; errors are logged."""

        async def later() -> None:
            await asyncio.sleep(delay)
            try:
                await action()
            except Exception:
                log.exception("a delayed action failed")

        task = asyncio.create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    # -- feeds -------------------------------------------------------------------------

    async def poll_feeds(self, feeds: list[Feed] | None = None) -> PollReport:
        """One poll pass over `feeds` (default: every feed), one pass at a time: the
        background poller and `/feeds poll` never poll the same feed twice at once."""
        try:
            report = await self._poll_schedule().poll(feeds)
        except PollingStoppedError:
            raise UserError("I'm shutting down; try again when I'm back.") from None
        if report.new:
            await self.choices.refresh_quietly()
        return report

    async def poll_due_feeds(self) -> PollReport:
        """One pass over the feeds whose time has come (the background poller's pass)."""
        report = await self._poll_schedule().poll_due()
        if report.new:
            await self.choices.refresh_quietly()
        return report

    def _poll_schedule(self) -> FeedPollLoop:
        if self._schedule is None:
            raise RuntimeError("the poller is made in setup_hook")
        return self._schedule

    def wake_poller(self) -> None:
        """Have the background poller look for due feeds now (a feed was just added)."""
        if self._schedule is not None:
            self._schedule.wake()

    # -- policies ----------------------------------------------------------------------

    def channel_allowed(self, channel: Any) -> bool:
        # The server's `/settings` answer channels, else `[discord] allowed_channel_ids`.
        return self.servers.channel_allowed(channel)

    # -- errors outside interactions (mentions, DMs) ---------------------------------------

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # Replaces discord.py's default handler, which prints to stderr.
        error_id = uuid.uuid4().hex[:8]
        log.exception("error %s in %s", error_id, event_method)
        message = args[0] if args and isinstance(args[0], discord.Message) else None
        if message is not None:
            try:
                await message.reply(
                    f"Sorry, something went wrong on my side (error `{error_id}`).",
                    allowed_mentions=NO_PINGS,
                )
            except discord.HTTPException:
                log.exception("could not tell the user about error %s", error_id)

    # -- shared pieces of handlers -------------------------------------------------------

    async def sources_page(self, page: int) -> tuple[discord.Embed, int]:
        size = self.settings.sources_page_size
        kb = self.backend.kb
        total = await self.offload_quick(kb.article_count)
        pages = max(1, -(-total // size))
        page = min(max(page, 1), pages)
        articles = await self.offload_quick(kb.list_articles, limit=size, offset=(page - 1) * size)
        embed = render.render_sources_page(articles, page=page, pages=pages, total=total)
        return embed, pages

    def stream_answer(
        self, send: Callable[..., Awaitable[discord.Message | None]]
    ) -> StreamedAnswer:
        """A message that shows a written answer while it is written, sent through `send`
        (see `bot.discord.streaming`); give it to `send_answer` to finish."""
        return StreamedAnswer(send, self.edit_timing)

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
        state = self.backend.state
        answer_id = await self.offload_quick(
            state.record_answer,
            answer,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            conversation=conversation,
        )
        payload = {
            "embeds": render.render_answer(answer),
            "view": answer_view(answer_id, answer),
            "allowed_mentions": NO_PINGS,
        }
        # Streamed: the final edit of the message that showed the sentences as written.
        message = await (stream.finish(**payload) if stream is not None else send(**payload))
        if message is not None:
            await self.offload_quick(state.attach_message, answer_id, message.id, conversation)
        return message

    # -- mentions, DMs, replies and threads -----------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        await answer_message(self, message)


def log_feed_report(report: FeedReport) -> None:
    """Each feed's part of a poll, to the log: a failure is a warning."""
    text = describe_feed_report(report, max_failures=10)
    if report.error or report.failed:
        log.warning("feed poll: %s", text)
    else:
        log.info("feed poll: %s", text)


class ShardedGeobotClient(GeobotClient, discord.AutoShardedClient):
    """The bot on several gateway connections in one process (`[discord] shards`)."""

    def __init__(
        self, config: BotConfig, backend_factory: Callable[[], Backend], **options: Any
    ) -> None:
        super().__init__(config, backend_factory, **options)
        shards = config.discord.shards
        # "auto" leaves shard_count None: as many as Discord recommends, asked at login.
        if shards != "auto":
            self.shard_count = shards
        # A process running some of the shards; other processes run the rest.
        if config.discord.shard_ids is not None:
            self.shard_ids = list(config.discord.shard_ids)


def build_client(
    config: BotConfig, backend_factory: Callable[[], Backend], *, force_sync: bool = False
) -> GeobotClient:
    """The bot with every slash command and button, answering with what
    `backend_factory` builds (once, in `setup_hook`); sharded when `[discord] shards`
    is more than 1 or "auto" (running only `[discord] shard_ids` of them, when set);
    `force_sync` syncs the commands even when they did not change since the last sync."""
    if config.discord.shards == 1:
        return GeobotClient(config, backend_factory, force_sync=force_sync)
    return ShardedGeobotClient(config, backend_factory, force_sync=force_sync)
