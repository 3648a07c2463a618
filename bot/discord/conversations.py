"""Questions asked in messages: mentions, DMs, replies to an answer, and its thread.

A mention in a channel starts a conversation: by default (`discord.follow_ups =
"thread"`) the answer opens a thread, where every message is a follow-up; otherwise the
answer is an inline reply, and replying to it follows up. In a DM every message is a
question. A follow-up is answered with the conversation's earlier answers as context.

The typing indicator goes up before any work, and the conversation's records are read in
the client's quick pool, so a question is acknowledged at once even while every answer
worker is busy. Without the permission to open threads the answer is an inline reply; a
channel where the bot may not embed gets a line saying so instead of an answer nobody
would see. Without the Message Content intent (`discord.message_content = false`),
Discord blanks messages that do not mention the bot: in a thread, only those that do are
answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.answers.chat import follow_up_context
from bot.discord import messages
from bot.discord.client_api import ClientAPI
from bot.discord.text import NO_PINGS

__all__ = ["answer_message", "conversation_for"]

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@!?(\d+)>")

NO_EMBEDS = (
    "I need the Embed Links permission in this channel to show answers with their "
    "sources; ask a server admin, or use `/ask`."
)


async def answer_message(client: ClientAPI, message: discord.Message) -> None:
    """Answer a mention, a DM or a follow-up (a reply to an answer, a message in its
    thread) in its conversation; ignore any other message."""
    if message.author.bot or client.user is None:
        return
    conversation, question = await conversation_for(client, message)
    if conversation is None:
        return
    if not client.channel_allowed(message.channel):
        return
    direct = isinstance(message.channel, discord.DMChannel) or client.user in message.mentions
    if not question:
        if not direct:
            return  # nothing to read: blanked without the Message Content intent, or empty
        await message.reply(
            "Ask me a question about the news, e.g. `@geobot what did NATO decide this week?`",
            allowed_mentions=NO_PINGS,
        )
        return
    permissions = bot_permissions(message)
    if permissions is not None and not permissions.embed_links:
        await message.reply(NO_EMBEDS, allowed_mentions=NO_PINGS)
        return
    guild_id = message.guild.id if message.guild else None
    policy = client.servers.policy(guild_id)
    wait = client.servers.cooldowns(guild_id).remaining(message.author.id)
    if wait:
        await message.reply(
            f"Please wait {wait:.0f} s before asking again.", allowed_mentions=NO_PINGS
        )
        return
    service = client.servers.service(client.backend, guild_id)
    target = _ReplyTarget(
        message,
        question,
        conversation,
        thread=_may_open_thread(policy.follow_ups, conversation, message, permissions),
    )
    async with contextlib.AsyncExitStack() as stack:
        # A written answer is shown as it is written; its first sentence opens the thread.
        stream = None
        if service.writer is not None:
            stream = await stack.enter_async_context(client.stream_answer(target.send))
        async with message.channel.typing():
            previous = await client.offload_quick(client.backend.state.conversation, conversation)
            context, window, shown = follow_up_context(question, [p.answer for p in previous])
            answer = await client.offload(
                service.ask,
                question,
                context=context,
                inherited_window=window,
                already_shown=shown,
                on_text=stream.on_text if stream is not None else None,
            )
        await target.open()
        await client.send_answer(
            answer,
            target.send,
            user_id=message.author.id,
            guild_id=guild_id,
            channel_id=target.channel_id,
            conversation=target.conversation,
            stream=stream,
        )


def _may_open_thread(
    follow_ups: str,
    conversation: str,
    message: discord.Message,
    permissions: discord.Permissions | None,
) -> bool:
    """Whether the answer to `message` opens a thread: a question in a channel does (with
    `follow_ups = "thread"`), when the bot may open threads and write in them."""
    return (
        follow_ups == "thread"
        and conversation.startswith("new:")
        and isinstance(message.channel, discord.TextChannel)
        and (
            permissions is None
            or (permissions.create_public_threads and permissions.send_messages_in_threads)
        )
    )


class _ReplyTarget:
    """Where the answer to a message goes: a new thread, or a reply in place. Opened
    once, by the first thing sent (a streamed sentence or the answer)."""

    def __init__(
        self, message: discord.Message, question: str, conversation: str, *, thread: bool
    ) -> None:
        self._message = message
        self._question = question
        self._thread = thread
        self.conversation = conversation
        self.channel_id: int | None = getattr(message.channel, "id", None)
        self._send: Callable[..., Awaitable[discord.Message | None]] | None = None
        # The first streamed sentence and the answer may both ask for it: one thread.
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        async with self._opening:
            if self._send is None:
                await self._open()

    async def _open(self) -> None:
        message = self._message
        thread = None
        if self._thread:
            # A question in a channel opens a thread; follow-ups there keep the context.
            try:
                thread = await message.create_thread(name=messages.thread_name(self._question))
            except discord.Forbidden:
                log.info("no permission to open a thread in %s; answering inline", message.channel)
        if thread is not None:
            self.conversation = f"thread:{thread.id}"
            self.channel_id = thread.id
            self._send = thread.send
            return
        if self.conversation.startswith("new:"):
            self.conversation = f"message:{message.id}"
        self._send = functools.partial(message.reply, mention_author=False)

    async def send(self, **payload: Any) -> discord.Message | None:
        await self.open()
        assert self._send is not None
        return await self._send(**payload)


def bot_permissions(message: discord.Message) -> discord.Permissions | None:
    """The bot's permissions where `message` was written (None in a DM: everything)."""
    guild = message.guild
    if guild is None or guild.me is None or isinstance(message.channel, discord.DMChannel):
        return None
    channel = message.channel
    if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return None
    return channel.permissions_for(guild.me)


async def conversation_for(client: ClientAPI, message: discord.Message) -> tuple[str | None, str]:
    """Which conversation a message continues (or "new:..."), or None to ignore it."""
    me = client.user
    assert me is not None
    text = MENTION.sub(
        lambda m: "" if int(m.group(1)) == me.id else m.group(0), message.content
    ).strip()
    if isinstance(message.channel, discord.DMChannel):
        return f"dm:{message.channel.id}", text
    if isinstance(message.channel, discord.Thread):
        key = f"thread:{message.channel.id}"
        if await client.offload_quick(client.backend.state.has_conversation, key):
            return key, text
    reference = message.reference
    if reference is not None and reference.message_id is not None:
        stored = await client.offload_quick(
            client.backend.state.answer_for_message, reference.message_id
        )
        if stored is not None and stored.conversation:
            return stored.conversation, text
    if me in message.mentions:
        return f"new:{message.id}", text
    return None, text
