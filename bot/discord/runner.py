"""Starting and stopping the bot: load once, run until SIGINT/SIGTERM, close cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from bot.answers.llm import writer_from_config
from bot.answers.service import AnswerService
from bot.config import BotConfig
from bot.discord.app import GeobotClient, build_client
from bot.discord.backend import Backend
from bot.state import open_bot_state
from index import Embedder, KnowledgeBase

__all__ = ["backend_factory", "run", "serve"]

log = logging.getLogger(__name__)


def backend_factory(config: BotConfig, embedder: Callable[[], Embedder]) -> Callable[[], Backend]:
    """What `setup_hook` calls once: open the knowledge base and load the model."""

    def build() -> Backend:
        kb = KnowledgeBase.open(config, embedder())
        kb.embedder.embed_query("warm up")  # load the model now, not on the first question
        state = open_bot_state(config)
        writer = writer_from_config(config.llm) if config.llm.enabled else None
        return Backend(AnswerService(kb, config.answers, writer=writer), state)

    return build


async def serve(client: GeobotClient, token: str) -> None:
    """Run `client` until it closes or the process is asked to stop."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not every platform (or a non-main thread) can install them.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    async with client:
        runner = asyncio.create_task(client.start(token))
        stopper = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stopping: closing the Discord connection")
        await client.close()
        stopper.cancel()
        if runner in done:
            runner.result()  # re-raise a login or connection failure
        else:
            await asyncio.gather(runner, return_exceptions=True)


def run(
    config: BotConfig, embedder: Callable[[], Embedder], token: str, *, force_sync: bool = False
) -> None:
    client = build_client(config, backend_factory(config, embedder), force_sync=force_sync)
    asyncio.run(serve(client, token))
