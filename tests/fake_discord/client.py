"""Run a real discord.py client against a :class:`FakeDiscord`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import discord

from .records import wait_until
from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.asynccontextmanager
async def run_client(
    client: ClientT,
    fake: FakeDiscord,
    *,
    token: str | None = None,
    ready_timeout: float = 10.0,
    close_timeout: float = 5.0,
) -> AsyncIterator[ClientT]:
    """Start ``client`` against ``fake``, yield once it is ready, close it on exit.

    discord.py is pointed at the fake by swapping ``Route.BASE`` and
    ``DiscordWebSocket.DEFAULT_GATEWAY`` for the duration (restored afterwards).
    ``client.start`` runs as a task in the current loop; if it dies before the
    client is ready its exception is raised here, and if it dies while the test
    runs its exception is raised on exit, so a crashing bot cannot pass silently.
    Pass ``guild_ready_timeout=0.1`` (or so) to the client to make startup quick:
    discord.py waits that long after the last GUILD_CREATE before ``on_ready``.
    """
    with fake.patched_discord():
        task = asyncio.create_task(client.start(token or fake.token), name="discord-client")
        try:
            # Poll is_ready() rather than wait_until_ready(): the latter raises until
            # login() has run, which happens inside the task.
            await wait_until(
                lambda: task.done() or client.is_ready(),
                timeout=ready_timeout,
                what="the discord.py client to become ready",
            )
            if task.done():
                task.result()  # raises what made start() fail
                raise RuntimeError("client.start() returned before the client was ready")
            yield client
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), close_timeout)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, close_timeout)
        # Only reached when the body succeeded: surface a crash of the client task.
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError("the discord.py client crashed") from task.exception()
