"""Two bot processes, one shard each, with their own data folders and one PostgreSQL
bot state (`[state] backend = "postgres"`, on the tests' real server): the commands are
synced once, both see one feed list, a daily briefing is claimed and posted once, and
after the shards are reassigned a button on an answer the other process gave still
works."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from corpus import CORPUS
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.records import wait_until
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder
from test_discord_bot import all_text, custom_ids, make_config
from test_discord_shards import QuickShards, second_guild

from bot.answers.service import AnswerService
from bot.config import BotConfig, StateConfig
from bot.discord import Backend
from bot.server_state import Briefing
from bot.state import open_bot_state
from index import KnowledgeBase

fake_discord = fixtures.fake_discord

QUESTION = {"question": "What did the mediators propose in the ceasefire talks?"}
NOW = datetime(2024, 4, 15, 18, 0, tzinfo=UTC)  # a day of the corpus's news


def process_config(tmp_path: Path, fake: FakeDiscord, name: str, state_url: str) -> BotConfig:
    """A process's own data folder (its own knowledge base), the one shared state; no
    background poller (one process of a deployment polls: `geobot feeds run`)."""
    config = make_config(tmp_path / name, fake, shards=2, dev_guild_id=None, poll_feeds=False)
    return config.model_copy(update={"state": StateConfig(backend="postgres", url=state_url)})


def with_shard(config: BotConfig, shard: int) -> BotConfig:
    """The process runs shard `shard` of 2 (`[discord] shard_ids`)."""
    discord_config = config.discord.model_copy(update={"shard_ids": (shard,)})
    return config.model_copy(update={"discord": discord_config})


def backend(config: BotConfig) -> Backend:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    if not kb.article_count():
        kb.ingest_articles(CORPUS)
    return Backend(AnswerService(kb, config.answers), open_bot_state(config))


class ShardProcess(QuickShards):
    """One process of a sharded bot: shard `shard` of 2 only, on the fake clock."""

    def __init__(self, config: BotConfig, shard: int) -> None:
        config = with_shard(config, shard)
        super().__init__(
            config, lambda: backend(config), clock=lambda: NOW, schedule_briefings=False
        )
        assert self.shard_ids == [shard] and self.shard_count == 2


def test_two_shard_processes_share_answers_briefing_claims_and_the_sync_hash(
    fake_discord: FakeDiscord, tmp_path: Path, postgres_url: str
) -> None:
    fake = fake_discord
    fake.gateway_shards = 2
    other_guild, other_channel, other_admin = second_guild(fake)
    home = fake.shard_of(fake.guild.id, 2)
    config_a = process_config(tmp_path, fake, "a", postgres_url)
    config_b = process_config(tmp_path, fake, "b", postgres_url)

    async def start(stack: contextlib.AsyncExitStack, config: BotConfig, shard: int) -> Any:
        client = ShardProcess(config, shard)
        return await stack.enter_async_context(run_client(client, fake, ready_timeout=30))

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            a = await start(stack, config_a, home)
            b = await start(stack, config_b, 1 - home)
            assert fake.shard_guilds == {home: (fake.guild.id,), 1 - home: (other_guild.id,)}
            assert {g.id for g in a.guilds} == {int(fake.guild.id)}
            assert {g.id for g in b.guilds} == {int(other_guild.id)}
            # b found the hash of the commands a synced in the shared state.
            assert len([x for x in fake.actions if x.kind == "commands_sync"]) == 1
            # The feed list too: a feed a adds (as /feeds add would) is on b's list.
            assert a.feeds.describe() == b.feeds.describe() == a.backend.state.database.describe()
            a.feeds.add("https://news.example/rss", outlet="Wire", country="GB")
            assert [(f.url, f.outlet) for f in b.feeds.all()] == [
                ("https://news.example/rss", "Wire")
            ]

            # Each process answers its own guild's questions, into the one state.
            asked = await fake.send_command("ask", QUESTION)
            answer = await asked.next("followup")
            assert "six-week truce" in all_text(answer)
            there = await fake.send_command(
                "ask", QUESTION, user=other_admin, channel=other_channel
            )
            other_answer = await there.next("followup")
            assert "six-week truce" in all_text(other_answer)
            # Either process finds the other's answer by its message (a reply to it),
            # once the answering process has noted which message shows it.
            state_a, state_b = a.backend.state, b.backend.state
            message_a, message_b = int(answer.message_id or 0), int(other_answer.message_id or 0)
            await wait_until(
                lambda: (
                    state_b.answer_for_message(message_a) is not None
                    and state_a.answer_for_message(message_b) is not None
                ),
                timeout=30,
                what="both answers' messages to be noted",
            )
            given_by_a = state_b.answer_for_message(message_a)
            given_by_b = state_a.answer_for_message(message_b)
            assert given_by_a is not None and given_by_b is not None
            assert given_by_a.answer.question == given_by_b.answer.question == QUESTION["question"]
            assert given_by_a.id != given_by_b.id

            # Both processes tick the daily briefing at once: one claims the day and
            # posts; the other finds it claimed (or, had the claim come first, not due).
            channel_id = int(fake.channel["id"])
            a.backend.state.servers.set_briefing(
                Briefing(int(fake.guild.id), channel_id, at="08:00", timezone="UTC")
            )
            history = len(fake.channel_history(fake.channel))
            ticks = await asyncio.gather(a.briefings.tick(), b.briefings.tick())
            outcomes = [outcome for tick in ticks for outcome in tick]
            results = sorted(o.result for o in outcomes)
            assert results in (["already posted", "posted"], ["posted"])
            assert {o.day for o in outcomes} == {date(2024, 4, 15)}
            posted = fake.channel_history(fake.channel)[history:]
            # One briefing went out (its one story), not one per process.
            titles = [[e.get("title") for e in m.get("embeds", [])] for m in posted]
            assert titles == [["1. Ceasefire talks resume in Cairo"]]
            again = await asyncio.gather(a.briefings.tick(), b.briefings.tick())
            assert list(again) == [[], []]  # claimed: not even due any more

        # The shards are reassigned (a restart with a new layout): b now carries the
        # home guild, and the buttons on the answer a gave work there.
        async with contextlib.AsyncExitStack() as stack:
            b = await start(stack, config_b, home)
            a = await start(stack, config_a, 1 - home)
            assert {g.id for g in b.guilds} == {int(fake.guild.id)}
            up = next(i for i in custom_ids(answer) if i.endswith(":up"))
            voted = await fake.send_component(answer.message_id, up)
            assert "Thanks, noted." in ((await voted.next("followup")).content or "")
            passages = next(i for i in custom_ids(answer) if i.startswith("passages:"))
            shown = await fake.send_component(answer.message_id, passages)
            assert "truce" in all_text(await shown.next("followup"))
            votes = a.backend.state.feedback(guild_id=int(fake.guild.id))
            member = int(fake.member["user"]["id"])
            assert [(v.user_id, v.helpful) for v in votes] == [(member, True)]
            assert votes[0].question == QUESTION["question"]
            # Neither process wrote a state file of its own.
            assert not list(tmp_path.glob("*/data/bot.sqlite3"))
        fake.assert_no_breaches()

    asyncio.run(asyncio.wait_for(main(), timeout=120))
