"""The bot with its answer backend saturated: every interaction still gets its first
response in time.

Discord gives an interaction 3 seconds for its first response. Here every answer worker
is held busy (on an Event the test controls, not on a clock) while every kind of
interaction comes in: slash commands, admin commands, autocomplete, buttons, the
/sources pager, mentions, thread follow-ups and DMs. Each must get its first response
(a callback, or for a message the typing indicator) while the workers are still held: a
first response that needed an answer worker would never come, and the hang guard
(`FIRST_RESPONSE_GUARD`) turns that into a failure. The fake Discord also fails the test
on any first response after 3 s. Once the workers are let go, everything is answered.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from fake_discord import fixtures
from fake_discord.records import ActionStream, wait_until
from fake_discord.server import FakeDiscord
from local_http import LOCAL_HOSTS, LocalHTTPServer
from test_discord_bot import custom_ids, make_config, run_bot

from bot.config import BotConfig
from bot.discord import GeobotClient
from index.config import FetchConfig

fake_discord = fixtures.fake_discord

# Only a hang guard: with the workers held, a first response that waits for one never
# comes at all. The assertion is that it came while they were held.
FIRST_RESPONSE_GUARD = 10.0


class HeldWorkers:
    """Occupies every answer worker of `client` until `let_go`."""

    def __init__(self, client: GeobotClient) -> None:
        self.client = client
        self.released = threading.Event()
        self._running = 0
        self._lock = threading.Lock()
        self._jobs: list[asyncio.Future[None]] = []

    def _occupy(self) -> None:
        with self._lock:
            self._running += 1
        self.released.wait(timeout=120)

    async def hold(self) -> None:
        workers = self.client.settings.workers
        self._jobs = [
            asyncio.ensure_future(self.client.offload(self._occupy)) for _ in range(workers)
        ]
        await wait_until(
            lambda: self._running == workers, timeout=10, what="every answer worker held"
        )

    async def let_go(self) -> None:
        self.released.set()
        await asyncio.gather(*self._jobs)


def load_config(tmp_path: Path, fake: FakeDiscord) -> BotConfig:
    config = make_config(tmp_path, fake, poll_feeds=False, workers=2)
    return config.model_copy(
        update={"fetch": FetchConfig(timeout_seconds=5.0, allowed_hosts=LOCAL_HOSTS)}
    )


def test_every_interaction_kind_answers_first_while_the_answer_workers_are_busy(
    fake_discord: FakeDiscord, tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    config = load_config(tmp_path, fake_discord)
    fake = fake_discord
    admin = fake.admin
    upload = ("new.jsonl", b'{"title": "Fresh", "text": "A fresh report on rail strikes."}\n')
    feed_url = local_http.url("/missing-feed.xml")

    async def body(client: GeobotClient) -> None:
        # Before the rush: an answer (with its buttons), a list, a thread, a feed.
        asked = await fake.send_command("ask", {"question": "ceasefire talks in Cairo"})
        answer = await asked.next("followup")
        passages = next(i for i in custom_ids(answer) if i.startswith("passages:"))
        helpful = next(i for i in custom_ids(answer) if i.endswith(":up"))
        listing = await fake.send_command("sources", {})
        page1 = await listing.next("followup")
        next_page = next(i for i in custom_ids(page1) if i.endswith(":next"))
        mention = await fake.send_message("Which countries tightened chip rules?", mention_bot=True)
        thread_answer = await mention.next("message")
        added = await fake.send_command("feeds add", {"url": feed_url}, user=admin)
        await added.next("followup")

        held = HeldWorkers(client)
        await held.hold()
        Step = tuple[str, Callable[[], Awaitable[ActionStream]], str, str | None]
        steps: list[Step] = [
            (
                "/ask",
                lambda: fake.send_command("ask", {"question": "grain"}),
                "callback",
                "followup",
            ),
            (
                "/summary",
                lambda: fake.send_command("summary", {"topic": "ceasefire"}),
                "callback",
                "followup",
            ),
            (
                "/search",
                lambda: fake.send_command("search", {"query": "grain"}),
                "callback",
                "followup",
            ),
            ("/sources", lambda: fake.send_command("sources", {}), "callback", "followup"),
            ("/help", lambda: fake.send_command("help", {}), "callback", "followup"),
            ("/stats", lambda: fake.send_command("stats", {}, user=admin), "callback", "followup"),
            (
                "/ingest",
                lambda: fake.send_command("ingest", {"file": upload}, user=admin),
                "callback",
                "followup",
            ),
            (
                "/remove",
                lambda: fake.send_command("remove", {"article": 10**6}, user=admin),
                "callback",
                "followup",
            ),
            (
                "/feeds list",
                lambda: fake.send_command("feeds list", {}, user=admin),
                "callback",
                "followup",
            ),
            (
                "/feeds poll",
                lambda: fake.send_command("feeds poll", {}, user=admin),
                "callback",
                "followup",
            ),
            (
                "/feeds remove",
                lambda: fake.send_command("feeds remove", {"url": feed_url}, user=admin),
                "callback",
                "followup",
            ),
            (
                "/stats by a plain member",
                lambda: fake.send_command("stats", {}),
                "callback",
                None,
            ),
            (
                "autocomplete /summary article",
                lambda: fake.send_autocomplete("summary", {"article": "chip"}, focused="article"),
                "callback",
                None,
            ),
            (
                "autocomplete /ask outlet",
                lambda: fake.send_autocomplete("ask", {"question": "x", "outlet": "W"}, "outlet"),
                "callback",
                None,
            ),
            (
                "autocomplete /search outlet",
                lambda: fake.send_autocomplete("search", {"query": "x", "outlet": ""}, "outlet"),
                "callback",
                None,
            ),
            (
                "autocomplete /remove article",
                lambda: fake.send_autocomplete(
                    "remove", {"article": "talks"}, "article", user=admin
                ),
                "callback",
                None,
            ),
            (
                "autocomplete /feeds remove",
                lambda: fake.send_autocomplete(
                    "feeds remove", {"url": "missing"}, "url", user=admin
                ),
                "callback",
                None,
            ),
            (
                "button: show passages",
                lambda: fake.send_component(answer.message_id, passages),
                "callback",
                "followup",
            ),
            (
                "button: helpful",
                lambda: fake.send_component(answer.message_id, helpful),
                "callback",
                "followup",
            ),
            (
                "button: /sources next page",
                lambda: fake.send_component(page1.message_id, next_page),
                "callback",
                "original_edit",
            ),
            (
                "mention",
                lambda: fake.send_message("How much grain did Ukraine export?", mention_bot=True),
                "typing",
                "message",
            ),
            (
                "thread follow-up",
                lambda: fake.send_message(
                    "And how did China respond?", channel=thread_answer.channel_id
                ),
                "typing",
                "message",
            ),
            ("DM", lambda: fake.send_message("Grain exports?", dm=True), "typing", "message"),
        ]
        pending: list[tuple[str, ActionStream, str]] = []
        try:
            for label, send, first, final in steps:
                handle = await send()
                try:
                    await handle.next(first, timeout=FIRST_RESPONSE_GUARD)
                except TimeoutError as exc:
                    raise AssertionError(f"{label}: no first response while busy: {exc}") from None
                assert not held.released.is_set()
                if final is not None:
                    pending.append((label, handle, final))
            # Autocomplete gave real choices from memory, not an empty list.
            choices = fake.stream(lambda a: a.callback_type == 8).actions
            assert any(a.payload["data"]["choices"] for a in choices)
        finally:
            await held.let_go()
        for label, handle, final in pending:
            try:
                await handle.next(final, timeout=30)
            except TimeoutError as exc:
                raise AssertionError(f"{label}: never finished: {exc}") from None

    run_bot(fake, config, body)
