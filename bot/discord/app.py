"""The Discord front end: slash commands, mentions, DMs and thread follow-ups.

Thin handlers in the style of discord.py's app_commands examples: each command's
docstring is its description, every parameter is described, and every error goes to one
handler that tells the user a short message with an error id and logs the traceback.
Answering runs in a thread pool, off the event loop, so the gateway heartbeat is never
starved; every interaction is deferred at once, then followed up.

While the bot runs it also polls the news feeds in the background (`_poll_forever`): each
pass polls the feeds that are due, then sleeps until the next one is due. Fetching is
async and extraction and ingestion run in worker threads, so a poll never blocks the bot;
a feed that fails backs off on its own schedule and never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.answers.chat import follow_up_context
from bot.answers.models import Answer
from bot.answers.service import AnswerService
from bot.config import BotConfig
from bot.discord import messages, render
from bot.feed_reports import describe_feed_report
from bot.state import BotState
from index import GeobotError, KnowledgeBase, NotFoundError
from index.sources.outlets import country_code
from index.web.feed_store import Feed, FeedStore, check_feed_url
from index.web.fetch import Fetcher
from index.web.polling import FeedPoller, FeedReport, PollReport, ingest_urls, is_url

__all__ = ["Backend", "GeobotClient", "build_client"]

log = logging.getLogger(__name__)
T = TypeVar("T")

NO_PINGS = discord.AllowedMentions.none()
MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class Backend:
    """What the bot answers with: the answer service over a knowledge base, and the bot's
    own records. Built once, in `setup_hook`, by the factory the client is given."""

    service: AnswerService
    state: BotState

    @property
    def kb(self) -> KnowledgeBase:
        return self.service.kb

    def close(self) -> None:
        self.state.close()
        self.service.kb.close()
        if self.service.writer is not None:
            self.service.writer.close()


class UserError(Exception):
    """A problem the user can fix; shown as is, without an error id."""


def parse_country(value: str | None) -> str | None:
    """A two-letter ISO country code, upper-cased, or None when not given."""
    if value is None or not value.strip():
        return None
    code = country_code(value)
    if code is None:
        raise UserError("`country` must be a two-letter country code such as GB.")
    return code


def parse_outlet(value: str | None) -> str | None:
    """An outlet name on one line, or None when not given."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UserError(f"`{name}` must be a date like 2024-04-12.") from None


class Cooldowns:
    """Per-user pause between questions (an in-memory clock; resets on restart)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._last: dict[int, float] = {}

    def remaining(self, user_id: int) -> float:
        """Seconds the user must still wait; 0 starts a new pause."""
        if self._seconds <= 0:
            return 0.0
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self._seconds:
            return self._seconds - (now - last)
        self._last[user_id] = now
        return 0.0


# -- buttons ---------------------------------------------------------------------------


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
            await client.report_error(interaction, error)


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
            await client.report_error(interaction, error)


def answer_view(answer_id: int, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if answer.citations:
        view.add_item(PassagesButton(answer_id))
    view.add_item(FeedbackButton(answer_id, True))
    view.add_item(FeedbackButton(answer_id, False))
    return view


class SourcesPager(discord.ui.View):
    """Previous / next page of /sources, for the person who asked."""

    def __init__(self, client: GeobotClient, owner: int, page: int, pages: int) -> None:
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
        await self.client.report_error(interaction, error)


# -- the client ------------------------------------------------------------------------


class GeobotClient(discord.Client):
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
    ) -> None:
        intents = discord.Intents.default()
        # Needed to read follow-ups in threads; mentions and DMs carry content anyway.
        intents.message_content = True
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
        self.cooldowns = Cooldowns(self.settings.cooldown_seconds)
        self._sync_commands = sync_commands
        # Feeds: built in setup_hook, with the backend; one fetcher for the bot's lifetime.
        self._feeds: FeedStore | None = None
        self._fetcher: Fetcher | None = None
        self._poller: FeedPoller | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._polls: set[asyncio.Future[PollReport]] = set()
        self._poll_lock = asyncio.Lock()
        self._poll_wakeup = asyncio.Event()
        self._stopping = False
        register_commands(self.tree)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("the backend is loaded in setup_hook")
        return self._backend

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
        self._feeds = await self.offload(FeedStore, self._backend.kb.store)
        self._fetcher = Fetcher(self.config.fetch)
        self._poller = FeedPoller(
            self._backend.kb,
            self._feeds,
            self._fetcher,
            self.config,
            on_feed_done=log_feed_report,
        )
        if self.settings.poll_feeds:
            self._poll_task = asyncio.create_task(self._poll_forever(), name="geobot-feed-poller")
        self.add_dynamic_items(PassagesButton, FeedbackButton)
        if not self._sync_commands:
            return
        guild_id = self.settings.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally", len(synced))

    async def close(self) -> None:
        # Polls stop first: a cancelled poll lets a running ingest finish (a thread cannot
        # be stopped), and the knowledge base is closed only once every poll has ended.
        self._stopping = True
        polls: set[asyncio.Future[Any]] = set(self._polls)
        if self._poll_task is not None:
            polls.add(self._poll_task)
        for poll in polls:
            poll.cancel()
        await super().close()
        if polls:
            await asyncio.wait(polls)
            for poll in polls:
                if not poll.cancelled() and poll.exception() is not None:
                    log.error("a feed poll ended with an error", exc_info=poll.exception())
        self._poll_task = None
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            await fetcher.aclose()
        # Queued answers are dropped, running ones finish: closing the knowledge base under
        # a running answer would pull its SQLite connection from under it.
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        backend, self._backend = self._backend, None
        if backend is not None:
            await asyncio.to_thread(backend.close)

    async def offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (retrieval, answering, SQLite) in the answer thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    # -- feeds -------------------------------------------------------------------------

    async def poll_feeds(self, feeds: list[Feed] | None = None) -> PollReport:
        """One poll pass over `feeds` (default: every feed), one pass at a time: the
        background poller and `/feeds poll` never poll the same feed twice at once."""
        if self._poller is None:
            raise RuntimeError("the poller is made in setup_hook")
        async with self._poll_lock:
            if self._stopping:
                raise UserError("I'm shutting down; try again when I'm back.")
            # Registered so that close() can stop it and wait for it.
            run = asyncio.ensure_future(self._poller.poll(feeds))
            self._polls.add(run)
            try:
                return await run
            finally:
                self._polls.discard(run)

    async def poll_due_feeds(self) -> PollReport:
        """One pass over the feeds whose time has come."""
        due = await asyncio.to_thread(self.feeds.due)
        if not due:
            return PollReport(feeds=(), seconds=0.0)
        return await self.poll_feeds(due)

    def wake_poller(self) -> None:
        """Have the background poller look for due feeds now (a feed was just added)."""
        self._poll_wakeup.set()

    async def _seconds_to_next_poll(self) -> float:
        upper = self.poll_max_seconds
        next_due = await asyncio.to_thread(self.feeds.next_due_at)
        if next_due is None:
            return upper
        now = datetime.now(UTC).replace(tzinfo=None)
        wait = (next_due - now).total_seconds()
        return min(max(wait, self.poll_min_seconds), upper)

    async def _poll_forever(self) -> None:
        """The background poller: poll the due feeds, sleep until the next is due, again.

        Nothing but cancellation ends it: an error in a pass is logged and the next pass
        comes as usual. Each feed's result is logged as it is done (`log_feed_report`)."""
        log.info("background feed polling started")
        while True:
            # Cleared before the pass: a feed added during it wakes the next one at once.
            self._poll_wakeup.clear()
            try:
                report = await self.poll_due_feeds()
                if report.feeds:
                    log.info(
                        "polled %d feed(s) in %.1f s: %d new articles, %d failed",
                        len(report.feeds),
                        report.seconds,
                        report.new,
                        report.failed,
                    )
                wait = await self._seconds_to_next_poll()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background feed poll failed; trying again later")
                wait = self.poll_max_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_wakeup.wait(), wait)

    # -- policies ----------------------------------------------------------------------

    def channel_allowed(self, channel: Any) -> bool:
        allowed = self.settings.allowed_channel_ids
        if not allowed or isinstance(channel, discord.DMChannel):
            return True
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
        return bool(ids & set(allowed))

    # -- errors ------------------------------------------------------------------------

    async def report_error(
        self, interaction: discord.Interaction[Any], error: BaseException
    ) -> None:
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
        total = await self.offload(kb.article_count)
        pages = max(1, -(-total // size))
        page = min(max(page, 1), pages)
        articles = await self.offload(kb.list_articles, limit=size, offset=(page - 1) * size)
        embed = render.render_sources_page(articles, page=page, pages=pages, total=total)
        return embed, pages

    async def send_answer(
        self,
        answer: Answer,
        send: Callable[..., Awaitable[discord.Message | None]],
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        conversation: str | None,
    ) -> discord.Message | None:
        state = self.backend.state
        answer_id = await self.offload(
            state.record_answer,
            answer,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            conversation=conversation,
        )
        message = await send(
            embeds=render.render_answer(answer),
            view=answer_view(answer_id, answer),
            allowed_mentions=NO_PINGS,
        )
        if message is not None:
            await self.offload(state.attach_message, answer_id, message.id, conversation)
        return message

    # -- mentions, DMs, replies and threads -----------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        conversation, question = await self._conversation_for(message)
        if conversation is None:
            return
        if not self.channel_allowed(message.channel):
            return
        if not question:
            await message.reply(
                "Ask me a question about the news, e.g. `@geobot what did NATO decide this week?`",
                allowed_mentions=NO_PINGS,
            )
            return
        wait = self.cooldowns.remaining(message.author.id)
        if wait:
            await message.reply(
                f"Please wait {wait:.0f} s before asking again.", allowed_mentions=NO_PINGS
            )
            return
        previous = await self.offload(self.backend.state.conversation, conversation)
        context, window, shown = follow_up_context(question, [p.answer for p in previous])
        async with message.channel.typing():
            answer = await self.offload(
                self.backend.service.ask,
                question,
                context=context,
                inherited_window=window,
                already_shown=shown,
            )
        target: discord.abc.Messageable = message.channel
        if (
            self.settings.follow_ups == "thread"
            and conversation.startswith("new:")
            and isinstance(message.channel, discord.TextChannel)
        ):
            # A question in a channel opens a thread; follow-ups there keep the context.
            thread = await message.create_thread(name=messages.thread_name(question))
            conversation = f"thread:{thread.id}"
            target = thread
            send: Callable[..., Awaitable[discord.Message | None]] = target.send
        else:
            if conversation.startswith("new:"):
                conversation = f"message:{message.id}"
            send = functools.partial(message.reply, mention_author=False)
        await self.send_answer(
            answer,
            send,
            user_id=message.author.id,
            guild_id=message.guild.id if message.guild else None,
            channel_id=getattr(target, "id", None),
            conversation=conversation,
        )

    async def _conversation_for(self, message: discord.Message) -> tuple[str | None, str]:
        """Which conversation a message continues (or "new:..."), or None to ignore it."""
        assert self.user is not None
        text = MENTION.sub(
            lambda m: "" if int(m.group(1)) == self.user.id else m.group(0),  # type: ignore[union-attr]
            message.content,
        ).strip()
        if isinstance(message.channel, discord.DMChannel):
            return f"dm:{message.channel.id}", text
        if isinstance(message.channel, discord.Thread):
            key = f"thread:{message.channel.id}"
            if await self.offload(self.backend.state.has_conversation, key):
                return key, text
        reference = message.reference
        if reference is not None and reference.message_id is not None:
            stored = await self.offload(self.backend.state.answer_for_message, reference.message_id)
            if stored is not None and stored.conversation:
                return stored.conversation, text
        if self.user in message.mentions:
            return f"new:{message.id}", text
        return None, text


class GeobotTree(app_commands.CommandTree[GeobotClient]):
    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        client = interaction.client
        assert isinstance(client, GeobotClient)
        if not client.channel_allowed(interaction.channel):
            raise app_commands.CheckFailure("I only answer in the channels set up for me.")
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        client = interaction.client
        assert isinstance(client, GeobotClient)
        await client.report_error(interaction, error)


def client_of(interaction: discord.Interaction[Any]) -> GeobotClient:
    client = interaction.client
    assert isinstance(client, GeobotClient)
    return client


def require_manage_server(interaction: discord.Interaction[Any]) -> None:
    """Checked when the command runs: Discord's permission hint alone can be overridden."""
    permissions = getattr(interaction.user, "guild_permissions", None)
    if interaction.guild is None or permissions is None or not permissions.manage_guild:
        raise UserError("Only members with the Manage Server permission can do that.")


def log_feed_report(report: FeedReport) -> None:
    """Each feed's part of a poll, to the log: a failure is a warning."""
    text = describe_feed_report(report, max_failures=10)
    if report.error or report.failed:
        log.warning("feed poll: %s", text)
    else:
        log.info("feed poll: %s", text)


def check_cooldown(interaction: discord.Interaction[Any]) -> None:
    wait = client_of(interaction).cooldowns.remaining(interaction.user.id)
    if wait:
        raise UserError(f"Please wait {wait:.0f} s before asking again.")


# -- slash commands ----------------------------------------------------------------------


OUTLET_HELP = "Only sources from this outlet, e.g. Reuters (start typing its name)"
COUNTRY_HELP = "Only sources from outlets of this country: a two-letter code, e.g. GB"


@app_commands.command()
@app_commands.describe(
    question="What you want to know, e.g. 'What did NATO decide this week?'",
    since="Only sources published on or after this date (YYYY-MM-DD)",
    until="Only sources published on or before this date (YYYY-MM-DD)",
    outlet=OUTLET_HELP,
    country=COUNTRY_HELP,
)
async def ask(
    interaction: discord.Interaction[Any],
    question: app_commands.Range[str, 1, 1000],
    since: str | None = None,
    until: str | None = None,
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Answer a question from the news articles, citing a source for every sentence."""
    client = client_of(interaction)
    first, last = parse_day(since, "since"), parse_day(until, "until")
    code = parse_country(country)
    check_cooldown(interaction)
    await interaction.response.defer(thinking=True)
    answer = await client.offload(
        client.backend.service.ask,
        question,
        since=first,
        until=last,
        outlet=parse_outlet(outlet),
        country=code,
    )
    await client.send_answer(
        answer,
        functools.partial(interaction.followup.send, wait=True),
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        conversation=None,
    )


@app_commands.command()
@app_commands.describe(
    article="An article to summarise (start typing its title)",
    topic="A topic to summarise across articles, e.g. 'Black Sea grain deal'",
    since="Topic only: sources published on or after this date (YYYY-MM-DD)",
    until="Topic only: sources published on or before this date (YYYY-MM-DD)",
)
async def summary(
    interaction: discord.Interaction[Any],
    article: int | None = None,
    topic: app_commands.Range[str, 1, 300] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> None:
    """Summarise one article, or what the articles say about a topic, with citations."""
    client = client_of(interaction)
    if (article is None) == (topic is None):
        raise UserError("Give either `article` or `topic`.")
    check_cooldown(interaction)
    first, last = parse_day(since, "since"), parse_day(until, "until")
    await interaction.response.defer(thinking=True)
    service = client.backend.service
    if article is not None:
        answer = await client.offload(service.summarize_article, article)
    else:
        answer = await client.offload(service.summarize_topic, topic or "", since=first, until=last)
    await client.send_answer(
        answer,
        functools.partial(interaction.followup.send, wait=True),
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        conversation=None,
    )


async def article_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[int]]:
    client = client_of(interaction)
    matches = await client.offload(client.backend.kb.find_articles, current, limit=25)
    return [app_commands.Choice(name=messages.choice_name(a), value=a.id) for a in matches]


summary.autocomplete("article")(article_choices)


async def outlet_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    client = client_of(interaction)
    counts = await client.offload(client.backend.kb.store.outlet_counts)
    typed = current.strip().casefold()
    return [
        app_commands.Choice(name=messages.outlet_choice_name(outlet, count), value=outlet)
        for outlet, count in counts
        if typed in outlet.casefold() and 1 <= len(outlet) <= 100
    ][:25]


ask.autocomplete("outlet")(outlet_choices)


@app_commands.command()
@app_commands.describe(
    query="Words or a question to look for in the articles",
    outlet=OUTLET_HELP,
    country=COUNTRY_HELP,
)
async def search(
    interaction: discord.Interaction[Any],
    query: app_commands.Range[str, 1, 500],
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Show the passages that best match a query, with their sources."""
    client = client_of(interaction)
    code = parse_country(country)
    await interaction.response.defer(thinking=True)
    hits = await client.offload(
        client.backend.kb.search, query, k=5, outlet=parse_outlet(outlet), country=code
    )
    await interaction.followup.send(
        embeds=render.render_hits(query, hits), allowed_mentions=NO_PINGS
    )


search.autocomplete("outlet")(outlet_choices)


@app_commands.command()
@app_commands.describe(page="Which page of the list to show (10 articles a page)")
async def sources(
    interaction: discord.Interaction[Any], page: app_commands.Range[int, 1] = 1
) -> None:
    """List the articles I know, newest first."""
    client = client_of(interaction)
    await interaction.response.defer()
    embed, pages = await client.sources_page(page)
    view = SourcesPager(client, interaction.user.id, min(page, pages), pages)
    await interaction.followup.send(embed=embed, view=view, allowed_mentions=NO_PINGS)


@app_commands.command(name="help")
async def help_command(interaction: discord.Interaction[Any]) -> None:
    """What I can do, and where my knowledge ends."""
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    stats = await client.offload(client.backend.kb.stats)
    await interaction.followup.send(
        embed=messages.render_help(stats), ephemeral=True, allowed_mentions=NO_PINGS
    )


@app_commands.command()
@app_commands.describe(
    file="A text, Markdown, HTML, JSON or JSON Lines file of articles (or give a url)",
    url="The http(s) address of an article page to fetch (or attach a file)",
)
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def ingest(
    interaction: discord.Interaction[Any],
    file: discord.Attachment | None = None,
    url: app_commands.Range[str, 1, 2000] | None = None,
) -> None:
    """Add articles from an attached file or an article page's URL (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    if (file is None) == (url is None):
        raise UserError("Give either a `file` or a `url` (exactly one of them).")
    if url is not None:
        await ingest_url(interaction, client, url.strip())
        return
    assert file is not None
    limit = client.config.ingest.max_file_bytes
    if file.size > limit:
        raise UserError(f"That file is {file.size:,} bytes; the limit is {limit:,}.")
    await interaction.response.defer(thinking=True, ephemeral=True)
    data = await file.read()
    name = Path(file.filename).name or "upload.txt"

    def ingest_bytes() -> Any:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            return client.backend.kb.ingest([path])

    report = await client.offload(ingest_bytes)
    await interaction.followup.send(
        messages.render_ingest_report(name, report), ephemeral=True, allowed_mentions=NO_PINGS
    )


async def ingest_url(interaction: discord.Interaction[Any], client: GeobotClient, url: str) -> None:
    """/ingest url: fetch the page, extract its article, store it; failures are reported."""
    if not is_url(url):
        raise UserError("`url` must be an http:// or https:// address.")
    await interaction.response.defer(thinking=True, ephemeral=True)
    report = await ingest_urls(client.backend.kb, client.fetcher, [url], offload=client.offload)
    await interaction.followup.send(
        messages.render_ingest_report(url, report),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


@app_commands.command()
@app_commands.describe(article="The article to delete (start typing its title)")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def remove(interaction: discord.Interaction[Any], article: int) -> None:
    """Delete an article and its passages (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    removed = await client.offload(client.backend.kb.remove, article)
    await interaction.followup.send(
        f"Removed article {removed.id}: {render.neutralize_mentions(removed.title)}",
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )


remove.autocomplete("article")(article_choices)


@app_commands.command()
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def stats(interaction: discord.Interaction[Any]) -> None:
    """Show what the knowledge base holds (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    found = await client.offload(client.backend.kb.stats)
    await interaction.followup.send(
        embed=messages.render_stats(found), ephemeral=True, allowed_mentions=NO_PINGS
    )


feeds = app_commands.Group(
    name="feeds",
    description="Follow news feeds (RSS, Atom): add, list, remove, poll (Manage Server only)",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)


@feeds.command(name="add")
@app_commands.describe(
    url="The feed's http(s) address (RSS or Atom)",
    outlet="The outlet's name, given to every article of the feed, e.g. Reuters",
    country="The outlet's country: a two-letter code, e.g. GB",
)
async def feeds_add(
    interaction: discord.Interaction[Any],
    url: app_commands.Range[str, 1, 2000],
    outlet: app_commands.Range[str, 1, 100] | None = None,
    country: app_commands.Range[str, 2, 2] | None = None,
) -> None:
    """Follow a news feed: I poll it in the background (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    address = check_feed_url(url)
    code = parse_country(country)
    await interaction.response.defer(thinking=True, ephemeral=True)
    feed, new = await client.offload(
        client.feeds.add, address, outlet=parse_outlet(outlet), country=code
    )
    client.wake_poller()
    await interaction.followup.send(
        messages.render_feed_added(feed, new, polling=client.poll_task is not None),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


@feeds.command(name="list")
async def feeds_list(interaction: discord.Interaction[Any]) -> None:
    """Show the feeds I follow and how their polling stands (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(ephemeral=True)
    found = await client.offload(client.feeds.all)
    await interaction.followup.send(
        embed=render.render_feeds(found), ephemeral=True, allowed_mentions=NO_PINGS
    )


@feeds.command(name="remove")
@app_commands.describe(url="The feed to stop following (start typing its address or outlet)")
async def feeds_remove(
    interaction: discord.Interaction[Any], url: app_commands.Range[str, 1, 2000]
) -> None:
    """Stop following a feed; the articles it brought stay (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    address = await client.offload(feed_url_for, client.feeds, url)
    try:
        removed = await client.offload(client.feeds.remove, address)
    except NotFoundError:
        shown = render.neutralize_mentions(" ".join(address.split()))[:300]
        raise UserError(f"I don't follow the feed <{shown}>; see `/feeds list`.") from None
    await interaction.followup.send(
        messages.render_feed_removed(removed),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


FEED_CHOICE = re.compile(r"feed:(\d+)")


def feed_url_for(store: FeedStore, value: str) -> str:
    """The URL a /feeds remove value names: the URL itself, or "feed:<id>" (the choice
    value of a feed whose URL is longer than a choice value may be)."""
    match = FEED_CHOICE.fullmatch(value.strip())
    if match is not None:
        for feed in store.all():
            if feed.id == int(match.group(1)):
                return feed.url
    return value


async def feed_choices(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    client = client_of(interaction)
    found = await client.offload(client.feeds.all)
    typed = current.strip().casefold()
    return [
        app_commands.Choice(
            name=messages.feed_choice_name(feed),
            value=feed.url if len(feed.url) <= 100 else f"feed:{feed.id}",
        )
        for feed in found
        if typed in messages.feed_choice_name(feed).casefold() or typed in feed.url.casefold()
    ][:25]


feeds_remove.autocomplete("url")(feed_choices)


@feeds.command(name="poll")
async def feeds_poll(interaction: discord.Interaction[Any]) -> None:
    """Poll every feed now and report on each (Manage Server only)."""
    require_manage_server(interaction)
    client = client_of(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    found = await client.offload(client.feeds.all)
    if not found:
        raise UserError("No feeds yet: add one with `/feeds add`.")
    report = await client.poll_feeds(found)
    await interaction.followup.send(
        messages.render_poll_report(report),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
        suppress_embeds=True,
    )


def register_commands(tree: app_commands.CommandTree[Any]) -> None:
    commands: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [
        ask,
        summary,
        search,
        sources,
        help_command,
        ingest,
        remove,
        stats,
        feeds,
    ]
    for command in commands:
        tree.add_command(command)


def build_client(config: BotConfig, backend_factory: Callable[[], Backend]) -> GeobotClient:
    return GeobotClient(config, backend_factory)
