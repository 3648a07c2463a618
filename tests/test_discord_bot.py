"""The real bot, on the real unpatched discord.py client, against the fake Discord."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import discord
import pytest
from click.testing import CliRunner
from corpus import CORPUS, news_article
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder, chat_completion
from local_http import LocalHTTPServer

from bot.answers.service import AnswerService
from bot.cli import AppContext, cli
from bot.config import AnswerConfig, BotConfig, DiscordConfig, LLMConfig
from bot.discord import Backend, GeobotClient
from bot.discord.runner import backend_factory
from bot.state import BotState
from index import KnowledgeBase

fake_discord = fixtures.fake_discord

HOSTILE = news_article(
    "hostile",
    "Protest organisers @everyone rally <@&123456789012345678>",
    "Organisers told @everyone to join the protest in the square, tagging "
    "<@&123456789012345678> and <@987654321098765432> in their call.",
    datetime(2024, 4, 16, 9, 0),
    "Troll Times",
)
_WORDS = (
    "energy ports grids cables railways satellites reactors ferries wheat fertiliser drones "
    "vaccines tariffs bonds refugees borders fisheries forests rivers glaciers mines chips "
    "banks courts schools hospitals roads bridges canals airports tunnels dams farms mills "
    "shipyards pipelines harbours warehouses stadiums museums libraries archives observatories"
).split()
_rng = random.Random(7)
LONG = news_article(
    "long",
    "Summit communique in full",
    " ".join(
        f"Summit delegates pledged support for {' '.join(_rng.sample(_WORDS, 14))} "
        f"under clause {i} of the communique."
        for i in range(60)
    ),
    datetime(2024, 4, 14, 9, 0),
    "Record Daily",
)


def make_config(tmp_path: Path, fake: FakeDiscord, **discord_settings: object) -> BotConfig:
    settings = {
        "dev_guild_id": int(fake.guild.id),
        "cooldown_seconds": 0.0,
        "guild_ready_timeout": 0.1,
        **discord_settings,
    }
    return BotConfig(
        data_dir=tmp_path / "data",
        discord=DiscordConfig.model_validate(settings),
        # The fake embedder's similarities run lower than the real model's, for which
        # the default decline threshold is calibrated.
        answers=AnswerConfig(word_budget=100, min_confidence=0.3),
    )


def make_backend(config: BotConfig, answers: AnswerConfig | None = None) -> Backend:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    if not kb.article_count():
        kb.ingest_articles([*CORPUS, HOSTILE, LONG])
    state = BotState(config.resolved_data_dir() / "bot.sqlite3")
    return Backend(AnswerService(kb, answers or config.answers), state)


def run_bot(
    fake: FakeDiscord,
    config: BotConfig,
    body: Callable[[GeobotClient], Awaitable[None]],
    *,
    answers: AnswerConfig | None = None,
) -> None:
    async def main() -> None:
        client = GeobotClient(config, lambda: make_backend(config, answers))
        # A generous start: on a loaded machine, building the corpus alone can take 10 s.
        async with run_client(client, fake, ready_timeout=30):
            await body(client)

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def custom_ids(action: object) -> list[str]:
    return [
        c["custom_id"]
        for row in action.components  # type: ignore[attr-defined]
        for c in row.get("components", [])
        if "custom_id" in c
    ]


def all_text(action: object) -> str:
    return json.dumps(action.body, ensure_ascii=False)  # type: ignore[attr-defined]


def test_commands_sync_to_the_dev_guild(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        sync = await fake_discord.stream(lambda a: a.kind == "commands_sync").next()
        names = {c["name"] for c in sync.payload}
        assert names == {
            "ask",
            "summary",
            "search",
            "sources",
            "help",
            "ingest",
            "remove",
            "stats",
            "feeds",
            "status",
            "settings",
            "feedback",
            "briefing",
        }
        ask = next(c for c in sync.payload if c["name"] == "ask")
        assert ask["description"].startswith("Answer a question")
        assert all(o["description"] for o in ask["options"])
        assert str(fake_discord.guild.id) in sync.path

    run_bot(fake_discord, config, body)


def test_ask_defers_then_answers_with_sources_and_buttons(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "ask", {"question": "What did the mediators propose in the ceasefire talks?"}
        )
        callback = await handle.next("callback")
        assert callback.callback_type == 5  # deferred at once
        followup = await handle.next("followup")
        embed = followup.embeds[0]
        assert "six-week truce" in embed["description"] and "[1]" in embed["description"]
        fields = {f["name"]: f["value"] for e in followup.embeds for f in e.get("fields", [])}
        assert "Ceasefire talks resume in Cairo" in fields["Sources"]
        assert "Wire One" in fields["Sources"] and "https://news.example/" in fields["Sources"]
        assert "extractive" in followup.embeds[-1]["footer"]["text"]
        ids = custom_ids(followup)
        assert any(i.startswith("passages:") for i in ids)
        assert {i.split(":")[-1] for i in ids if i.startswith("feedback:")} == {"up", "down"}

        # "Show passages" goes to the asker alone.
        passages_id = next(i for i in ids if i.startswith("passages:"))
        click = await fake_discord.send_component(followup.message_id, passages_id)
        deferred = await click.next("callback")  # deferred first, in private
        assert deferred.callback_type == 5 and deferred.flags & 64
        shown = await click.next("followup")
        assert "six-week truce" in all_text(shown)
        original = fake_discord.original_message(click.token)
        assert original is not None and original["flags"] & 64

        # Feedback is stored, one vote per person (a second vote replaces the first).
        up = next(i for i in ids if i.endswith(":up"))
        down = next(i for i in ids if i.endswith(":down"))
        await (await fake_discord.send_component(followup.message_id, up)).next("followup")
        await (await fake_discord.send_component(followup.message_id, down)).next("followup")
        votes = await client.offload(client.backend.state.feedback)
        assert [(v.helpful, v.user_id) for v in votes] == [
            (False, int(fake_discord.member["user"]["id"]))
        ]

    run_bot(fake_discord, config, body)
    exported = CliRunner().invoke(
        cli,
        ["--data-dir", str(config.resolved_data_dir()), "feedback"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=256)),
    )
    row = json.loads(exported.output.splitlines()[0])
    assert row["helpful"] is False and "mediators" in row["question"]


def test_ask_with_dates_and_bad_date(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "ask", {"question": "ceasefire talks", "since": "2024-03-01", "until": "2024-03-31"}
        )
        followup = await handle.next("followup")
        assert "Ceasefire talks stall in Doha" in all_text(followup)
        assert "Dates: only" in followup.embeds[-1]["footer"]["text"]
        bad = await fake_discord.send_command("ask", {"question": "x", "since": "yesterday"})
        reply = await bad.next("callback")
        assert reply.flags & 64 and "2024-04-12" in (reply.content or "")

    run_bot(fake_discord, config, body)


def test_unanswerable_question_is_declined(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "ask", {"question": "Who won the 2018 FIFA World Cup?"}
        )
        followup = await handle.next("followup")
        assert "I couldn't find this" in followup.embeds[0]["description"]
        assert not any(i.startswith("passages:") for i in custom_ids(followup))

    run_bot(fake_discord, config, body)


def test_summary_autocomplete_article_and_topic(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        typed = await fake_discord.send_autocomplete(
            "summary", {"article": "chip"}, focused="article"
        )
        choices = (await typed.next("callback")).payload["data"]["choices"]
        assert len(choices) == 1 and "chip export" in choices[0]["name"]
        article = await fake_discord.send_command("summary", {"article": choices[0]["value"]})
        summary = await article.next("followup")
        assert "[1]" in summary.embeds[0]["description"]
        topic = await fake_discord.send_command("summary", {"topic": "ceasefire talks"})
        across = await topic.next("followup")
        assert "Sources cover" in across.embeds[-1]["footer"]["text"]
        neither = await fake_discord.send_command("summary", {})
        assert "either `article` or `topic`" in ((await neither.next("callback")).content or "")

    run_bot(fake_discord, config, body)


def test_search_sources_paging_and_help(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, sources_page_size=3)

    async def body(client: GeobotClient) -> None:
        search = await fake_discord.send_command("search", {"query": "grain exports"})
        hits = await search.next("followup")
        assert "Ukraine grain exports rise" in all_text(hits)

        listing = await fake_discord.send_command("sources", {})
        page1 = await listing.next("followup")
        assert "page 1/3" in page1.embeds[0]["title"]
        next_id = next(i for i in custom_ids(page1) if "next" in i.lower() or i)
        buttons = [
            c for row in page1.components for c in row["components"] if c.get("label") == "Next"
        ]
        next_id = buttons[0]["custom_id"]
        click = await fake_discord.send_component(page1.message_id, next_id)
        assert (await click.next("callback")).callback_type == 6  # deferred update first
        page2 = await click.next("original_edit")
        assert "page 2/3" in page2.embeds[0]["title"]

        helped = await fake_discord.send_command("help", {})
        shown = await helped.next("followup")
        assert shown.flags & 64
        assert "8 articles" in all_text(shown)

    run_bot(fake_discord, config, body)


def test_admin_commands_refuse_normal_members(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        for name, options in (("stats", {}), ("remove", {"article": 1})):
            refused = await fake_discord.send_command(name, options, user=fake_discord.member)
            reply = await refused.next("callback")
            assert reply.flags & 64 and "Manage Server" in (reply.content or "")
        upload = ("new.jsonl", b'{"title": "Fresh", "text": "A fresh report on rail strikes."}\n')
        refused = await fake_discord.send_command(
            "ingest", {"file": upload}, user=fake_discord.member
        )
        assert "Manage Server" in ((await refused.next("callback")).content or "")
        assert await client.offload(client.backend.kb.article_count) == 8

        stats = await fake_discord.send_command("stats", {}, user=fake_discord.admin)
        shown = await stats.next("followup")
        assert "Articles" in all_text(shown) and "8" in all_text(shown)
        added = await fake_discord.send_command("ingest", {"file": upload}, user=fake_discord.admin)
        report = await added.next("followup")
        assert "added 1" in (report.content or "")
        fresh = (await client.offload(client.backend.kb.find_articles, "Fresh"))[0]
        removed = await fake_discord.send_command(
            "remove", {"article": fresh.id}, user=fake_discord.admin
        )
        assert "Removed article" in ((await removed.next("followup")).content or "")
        assert await client.offload(client.backend.kb.article_count) == 8

    run_bot(fake_discord, config, body)


def test_mention_opens_a_thread_and_follow_ups_keep_context(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message(
            "Which countries tightened chip export rules?", mention_bot=True
        )
        thread = await asked.next("thread_create")
        answer = await asked.next("message")
        assert answer.channel_id == asked.message["id"]  # inside the new thread
        assert "Japan and the Netherlands" in all_text(answer)
        follow = await fake_discord.send_message(
            "And how did China respond?", channel=answer.channel_id
        )
        reply = await follow.next("message")
        text = all_text(reply)
        assert "gallium" in text or "firm response" in text
        assert thread.payload["name"].startswith("Which countries")

    run_bot(fake_discord, config, body)


def test_inline_replies_and_reply_follow_ups(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, follow_ups="inline")

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message(
            "Which countries tightened chip export rules?", mention_bot=True
        )
        answer = await asked.next("message")
        assert answer.body["message_reference"]["message_id"] == int(asked.message["id"])
        follow = await fake_discord.send_message(
            "And how did China respond?", reply_to=answer.message_id
        )
        reply = await follow.next("message")
        assert "gallium" in all_text(reply) or "firm response" in all_text(reply)
        # A message that neither mentions the bot nor replies to it is not for the bot.
        ignored = await fake_discord.send_message("just chatting about chips")
        await ignored.expect_nothing(0.5, "message")

    run_bot(fake_discord, config, body)


def test_direct_messages_are_answered(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message("How much grain did Ukraine export?", dm=True)
        answer = await asked.next("message")
        assert "Black Sea" in all_text(answer)

    run_bot(fake_discord, config, body)


def test_cooldown_per_user(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, cooldown_seconds=60)

    async def body(client: GeobotClient) -> None:
        first = await fake_discord.send_command("ask", {"question": "ceasefire talks"})
        await first.next("followup")
        second = await fake_discord.send_command("ask", {"question": "grain exports"})
        refused = await second.next("callback")
        assert refused.flags & 64 and "Please wait" in (refused.content or "")
        other = await fake_discord.send_command(
            "ask", {"question": "grain exports"}, user=fake_discord.admin
        )
        assert (await other.next("callback")).callback_type == 5

    run_bot(fake_discord, config, body)


def test_channel_allow_list(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(
        tmp_path, fake_discord, allowed_channel_ids=[int(fake_discord.other_channel["id"])]
    )

    async def body(client: GeobotClient) -> None:
        refused = await fake_discord.send_command("ask", {"question": "ceasefire"})
        assert "channels set up for me" in ((await refused.next("callback")).content or "")
        allowed = await fake_discord.send_command(
            "ask", {"question": "ceasefire"}, channel=fake_discord.other_channel
        )
        assert (await allowed.next("callback")).callback_type == 5
        ignored = await fake_discord.send_message("ceasefire?", mention_bot=True)
        await ignored.expect_nothing(0.5, "message")

    run_bot(fake_discord, config, body)


def test_hostile_article_cannot_ping(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "ask", {"question": "What did the protest organisers tell everyone?"}
        )
        followup = await handle.next("followup")
        text = all_text(followup)
        assert "Troll Times" in text
        assert "@everyone" not in text and "<@&123456789012345678>" not in text
        assert "<@987654321098765432>" not in text
        assert followup.allowed_mentions == {"parse": []}

    run_bot(fake_discord, config, body)


def test_long_answer_is_split_within_limits(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)
    verbose = AnswerConfig(word_budget=1000, min_confidence=0.0, passages=40, candidates=80)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command(
            "ask", {"question": "What did delegates pledge in the summit communique?"}
        )
        followup = await handle.next("followup")
        assert len(followup.embeds) > 1
        descriptions = [e.get("description", "") for e in followup.embeds]
        for part in descriptions:
            stripped = part.rstrip()
            assert stripped.endswith("]") or stripped.endswith("Discord)")
        assert "Summit communique in full" in all_text(followup)

    run_bot(fake_discord, config, body, answers=verbose)


def test_backend_error_gets_an_error_id(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("index exploded")

        client.backend.service.ask = broken  # type: ignore[method-assign,assignment]
        handle = await fake_discord.send_command("ask", {"question": "ceasefire"})
        reply = await handle.next("followup")
        assert "something went wrong" in (reply.content or "") and "error `" in (
            reply.content or ""
        )
        error_id = (reply.content or "").split("`")[1]
        mention = await fake_discord.send_message("ceasefire?", mention_bot=True)
        said = await mention.next("message")
        assert "error `" in (said.content or "")
        assert error_id in caplog.text and "index exploded" in caplog.text

    with caplog.at_level(logging.ERROR):
        run_bot(fake_discord, config, body)


def test_bot_command_needs_a_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "bot"], env={"DISCORD_TOKEN": ""}
    )
    assert result.exit_code == 1
    assert "DISCORD_TOKEN" in result.output


def test_discord_py_is_the_pinned_version() -> None:
    assert discord.__version__.startswith("2.7.")


def test_commands_sync_globally_without_a_dev_guild(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord, dev_guild_id=None)

    async def body(client: GeobotClient) -> None:
        sync = await fake_discord.stream(lambda a: a.kind == "commands_sync").next()
        assert "/guilds/" not in sync.path
        assert {c["name"] for c in sync.payload} >= {"ask", "summary", "search"}

    run_bot(fake_discord, config, body)


def test_sigterm_closes_the_bot_cleanly(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    import os
    import signal

    from bot.discord.runner import serve

    config = make_config(tmp_path, fake_discord)
    closed: list[bool] = []

    def backend() -> Backend:
        made = make_backend(config)
        original = made.close

        def close() -> None:
            closed.append(True)
            original()

        made.close = close  # type: ignore[method-assign]
        return made

    async def main() -> None:
        client = GeobotClient(config, backend)
        with fake_discord.patched_discord():
            task = asyncio.create_task(serve(client, fake_discord.token))
            for _ in range(200):
                if client.is_ready():
                    break
                await asyncio.sleep(0.05)
            assert client.is_ready()
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(task, timeout=20)
        assert client.is_closed()

    asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert closed == [True]  # the knowledge base and the bot's records were closed


def test_ask_with_llm_enabled_gets_a_written_checked_answer(
    fake_discord: FakeDiscord, tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    """The runner's backend builds the writer from `[llm]`; the answer says it was written."""
    config = make_config(tmp_path, fake_discord).model_copy(
        update={"llm": LLMConfig(enabled=True, base_url=local_http.url("/v1"))}
    )
    make_backend(config).close()  # the corpus, ingested once
    # A fixed reply cannot know which number the Cairo passage gets: it cites the top five.
    reply = "The mediators proposed a six-week truce [1][2][3][4][5]. They planned a coup [1]."
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")

    async def main() -> None:
        client = GeobotClient(config, backend_factory(config, lambda: HashingEmbedder(256)))
        async with run_client(client, fake_discord):
            handle = await fake_discord.send_command(
                "ask", {"question": "What did the mediators propose in the ceasefire talks?"}
            )
            # Shown as it is written: the checked first sentence, then the answer by edit.
            first = await handle.next("followup")
            assert first.content is not None
            assert first.content.startswith("The mediators proposed a six-week truce. [1]")
            followup = await handle.next("followup_edit")
            assert followup.embeds[0]["description"].startswith(
                "The mediators proposed a six-week truce. [1]"
            )
            assert "coup" not in followup.embeds[0]["description"]
            footer = followup.embeds[-1]["footer"]["text"]
            assert "written by a language model" in footer
            # Why a sentence was dropped is said; its unchecked words are not shown.
            assert "1 written sentence dropped: not supported by its sources" in footer
            assert "coup" not in footer

    asyncio.run(asyncio.wait_for(main(), timeout=60))
    (request,) = local_http.requests_to("/v1/chat/completions")
    assert "Ceasefire talks resume in Cairo" in json.loads(request.body)["messages"][-1]["content"]
