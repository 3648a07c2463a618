"""A written answer shown while it is written: one message, edited as sentences pass.

The answer service runs in a worker thread and reports the answer's text each time one
more written sentence has passed its checks (`AnswerService.ask(on_text=...)`); nothing
else ever reaches this module, so nothing unchecked can be shown. `StreamedAnswer` takes
those texts (`on_text`, from any thread) and shows the latest in a message's content:
the first one is sent, the later ones replace it by an edit, at most one edit per
`EditTiming.interval` seconds (texts that arrive in between are merged into the next
edit). The content is the answer's sentences as the final embed shows them (escaped the
same way), cut after a whole sentence to fit Discord's 2,000 characters.

`finish` ends it: the final edit puts the answer as it is always sent (embeds, sources,
buttons) in place of the content. When no sentence was shown, the answer is sent as
usual; when the written answer did not hold up to the end (the server failed, the whole
answer failed its final check), the final edit replaces the sentences shown with the
answer given instead, whose notes say why. An edit that fails on the way (a 429 or 5xx
that discord.py's own retries did not get through) is logged and skipped: the next edit
or the final one carries the whole text again.

The clock and the sleep are injected (`EditTiming`), so tests decide with a fake clock
when an edit is due and never wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import discord

from bot.discord.text import NO_PINGS, safe_markdown

__all__ = ["EditTiming", "StreamedAnswer", "streamed_content"]

log = logging.getLogger(__name__)

CONTENT_MAX = 2000
# The markers closing a written sentence: " [1]", " [1][3]", then a space or the end.
_MARKER_RUN_END = re.compile(r" (?:\[\d+\])+(?=\s|$)")

Send = Callable[..., Awaitable[discord.Message | None]]


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class EditTiming:
    """How often a streamed message may be edited, and the clock that says when."""

    interval: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(default=_sleep, compare=False)


def streamed_content(text: str, limit: int = CONTENT_MAX) -> str:
    """The checked sentences of `text` ("sentence [1] sentence [1][2]", as the service
    composes written sentences) as a message's content: each escaped as the answer's
    embed shows it, as many whole sentences as fit `limit` ("" for none)."""
    content = ""
    position = 0
    for match in _MARKER_RUN_END.finditer(text):
        sentence = text[position : match.start()].strip()
        position = match.end()
        longer = (content + " " if content else "") + safe_markdown(sentence) + match.group()
        if len(longer) > limit:
            break
        content = longer
    return content


class StreamedAnswer:
    """One answer's message while it is written; use it as an async context manager on
    the event loop (leaving it without `finish` stops the edits)."""

    def __init__(self, send: Send, timing: EditTiming | None = None) -> None:
        self._send = send
        self._timing = timing or EditTiming()
        self._loop = asyncio.get_running_loop()
        self._latest = ""
        self._shown = ""
        self._last_edit: float | None = None
        self._changed = asyncio.Event()
        self._closed = False
        self.message: discord.Message | None = None
        self._pump = asyncio.create_task(self._show_as_written(), name="geobot-stream")

    @property
    def shown(self) -> str:
        """The content the message shows now ("" before the first sentence)."""
        return self._shown

    def on_text(self, text: str) -> None:
        """The answer's checked text so far; callable from any thread."""
        # A closed loop (the bot is stopping) will not send the answer either.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._offer, text)

    def _offer(self, text: str) -> None:
        if not self._closed:
            self._latest = text
            self._changed.set()

    async def _wait_turn(self) -> None:
        if self._last_edit is not None:
            wait = self._last_edit + self._timing.interval - self._timing.clock()
            if wait > 0:
                await self._timing.sleep(wait)

    async def _show_as_written(self) -> None:
        while True:
            await self._changed.wait()
            if self._closed:
                return
            await self._wait_turn()
            if self._closed:
                return
            self._changed.clear()
            content = streamed_content(self._latest)
            if not content or content == self._shown:
                continue
            try:
                if self.message is None:
                    self.message = await self._send(content=content, allowed_mentions=NO_PINGS)
                else:
                    await self.message.edit(content=content, allowed_mentions=NO_PINGS)
                self._shown = content
            except discord.HTTPException as exc:
                log.warning("could not show the answer so far (%s); going on", exc)
            self._last_edit = self._timing.clock()

    async def _stop(self) -> None:
        self._closed = True
        self._changed.set()
        await self._pump  # an edit under way ends first: none can follow the final one

    async def finish(self, **payload: Any) -> discord.Message | None:
        """Show the finished answer (`payload`: what `send` would take): the final edit
        of the message, or a new message when none was sent (or it was deleted)."""
        await self._stop()
        if self.message is None:
            return await self._send(**payload)
        await self._wait_turn()
        try:
            edited = await self.message.edit(content=None, **payload)
        except discord.NotFound:
            log.info("the streamed message is gone; sending the answer anew")
            return await self._send(**payload)
        return edited if isinstance(edited, discord.Message) else self.message

    async def __aenter__(self) -> StreamedAnswer:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._pump.done():
            self._closed = True
            self._pump.cancel()
            await asyncio.wait([self._pump])
