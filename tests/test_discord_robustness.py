"""The bot when Discord pushes back: rate limits and server errors on sends, a restart in
the middle of a conversation, missing permissions, no Message Content intent, errors
after a public deferral, a 300-character question as a thread's name.

The real bot, on the real discord.py client, against the fake Discord.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord
import pytest
from fake_discord import Permission, fixtures
from fake_discord.client import run_client
from fake_discord.server import FakeDiscord
from test_discord_bot import all_text, custom_ids, make_backend, make_config, run_bot

from bot.config import BotConfig
from bot.discord import GeobotClient
from bot.discord.conversations import NO_EMBEDS

fake_discord = fixtures.fake_discord

EPHEMERAL = 64
QUESTION = "What did the mediators propose in the ceasefire talks?"


def bot_overwrite(fake: FakeDiscord, deny: int) -> dict[str, object]:
    return {"id": fake.bot_user["id"], "type": 1, "allow": "0", "deny": str(int(deny))}


# -- rate limits and server errors ---------------------------------------------------------


def test_a_429_with_retry_after_on_sends_is_waited_out(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        fake_discord.fail_next("POST", r"^/webhooks/", status=429, retry_after=0.2)
        handle = await fake_discord.send_command("ask", {"question": QUESTION})
        assert (await handle.next("callback")).callback_type == 5
        followup = await handle.next("followup", timeout=15)
        assert "six-week truce" in all_text(followup)
        limited = [r for r in fake_discord.requests if r.status == 429]
        assert len(limited) == 1 and limited[0].path.startswith("/webhooks/")

        fake_discord.fail_next("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.2)
        asked = await fake_discord.send_message(QUESTION, mention_bot=True)
        answer = await asked.next("message", timeout=15)
        assert "six-week truce" in all_text(answer)

    run_bot(fake_discord, config, body)


def test_a_5xx_on_sends_is_retried(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, follow_ups="inline")

    async def body(client: GeobotClient) -> None:
        fake_discord.fail_next("POST", r"^/webhooks/", status=502)
        handle = await fake_discord.send_command("ask", {"question": QUESTION})
        followup = await handle.next("followup", timeout=15)
        assert "six-week truce" in all_text(followup)

        fake_discord.fail_next("POST", r"^/channels/\d+/messages$", status=500)
        asked = await fake_discord.send_message(QUESTION, mention_bot=True)
        answer = await asked.next("message", timeout=15)
        assert "six-week truce" in all_text(answer)
        assert sorted(r.status for r in fake_discord.requests if r.status >= 500) == [500, 502]
        # The bot is still up and answering.
        again = await fake_discord.send_command("ask", {"question": "grain exports"})
        await again.next("followup")

    run_bot(fake_discord, config, body)


def test_a_send_that_keeps_failing_is_reported_and_the_bot_carries_on(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord, follow_ups="inline")

    async def body(client: GeobotClient) -> None:
        # Refused for good (403: discord.py does not retry it): the user is told in
        # private, and the next question is answered as usual.
        fake_discord.fail_next("POST", r"^/webhooks/", status=403, code=50013)
        handle = await fake_discord.send_command("ask", {"question": QUESTION})
        told = await handle.next("followup", timeout=15)
        assert "something went wrong" in (told.content or "")
        assert told.message is not None and told.message["flags"] & EPHEMERAL
        again = await fake_discord.send_command("ask", {"question": "grain exports"})
        assert "Black Sea" in all_text(await again.next("followup"))

    run_bot(fake_discord, config, body)


# -- a restart in the middle of a conversation ---------------------------------------------


def test_buttons_pager_and_threads_work_after_a_restart(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord, sources_page_size=3)
    syncs = fake_discord.stream(lambda a: a.kind == "commands_sync")

    async def first_run(client: GeobotClient) -> dict[str, str]:
        asked = await fake_discord.send_command("ask", {"question": QUESTION})
        answer = await asked.next("followup")
        listing = await fake_discord.send_command("sources", {})
        page1 = await listing.next("followup")
        mention = await fake_discord.send_message(
            "Which countries tightened chip export rules?", mention_bot=True
        )
        threaded = await mention.next("message")
        return {
            "answer": str(answer.message_id),
            "passages": next(i for i in custom_ids(answer) if i.startswith("passages:")),
            "down": next(i for i in custom_ids(answer) if i.endswith(":down")),
            "page1": str(page1.message_id),
            "next": next(i for i in custom_ids(page1) if i.endswith(":next")),
            "thread": str(threaded.channel_id),
        }

    async def main() -> None:
        client = GeobotClient(config, lambda: make_backend(config))
        async with run_client(client, fake_discord, ready_timeout=30):
            seen = await first_run(client)
        assert len(syncs.actions) == 1
        restarted = GeobotClient(config, lambda: make_backend(config))
        async with run_client(restarted, fake_discord, ready_timeout=30):
            shown = await fake_discord.send_component(seen["answer"], seen["passages"])
            assert "six-week truce" in all_text(await shown.next("followup"))
            vote = await fake_discord.send_component(seen["answer"], seen["down"])
            await vote.next("followup")
            votes = await restarted.offload(restarted.backend.state.feedback)
            assert [v.helpful for v in votes] == [False]
            paged = await fake_discord.send_component(seen["page1"], seen["next"])
            assert "page 2/3" in (await paged.next("original_edit")).embeds[0]["title"]
            follow = await fake_discord.send_message(
                "And how did China respond?", channel=seen["thread"]
            )
            reply = await follow.next("message")
            assert "gallium" in all_text(reply) or "firm response" in all_text(reply)
        # The command tree did not change: no second sync.
        assert len(syncs.actions) == 1

    asyncio.run(asyncio.wait_for(main(), timeout=60))


# -- missing permissions -------------------------------------------------------------------


def test_without_thread_permission_a_mention_is_answered_inline(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    channel = fake_discord.add_text_channel(
        fake_discord.guild,
        "no-threads",
        permission_overwrites=[bot_overwrite(fake_discord, Permission.CREATE_PUBLIC_THREADS)],
    )
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message(QUESTION, channel=channel, mention_bot=True)
        answer = await asked.next("message")
        assert answer.channel_id == channel["id"]
        assert answer.body["message_reference"]["message_id"] == int(asked.message["id"])
        assert "six-week truce" in all_text(answer)
        assert not fake_discord.stream(lambda a: a.kind == "thread_create").actions
        # A reply to that answer follows up on it.
        follow = await fake_discord.send_message(
            "And when do they meet again?", channel=channel, reply_to=answer.message_id
        )
        await follow.next("message")

    run_bot(fake_discord, config, body)


def test_a_thread_refused_by_discord_falls_back_to_an_inline_answer(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        # The bot's cached permissions say yes, Discord says no (e.g. changed meanwhile).
        fake_discord.fail_next("POST", r"/threads$", status=403, code=50013)
        asked = await fake_discord.send_message(QUESTION, mention_bot=True)
        answer = await asked.next("message")
        assert answer.channel_id == fake_discord.channel["id"]
        assert "six-week truce" in all_text(answer)

    run_bot(fake_discord, config, body)


def test_without_embed_permission_a_mention_is_told_why(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    channel = fake_discord.add_text_channel(
        fake_discord.guild,
        "no-embeds",
        permission_overwrites=[bot_overwrite(fake_discord, Permission.EMBED_LINKS)],
    )
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message(QUESTION, channel=channel, mention_bot=True)
        said = await asked.next("message")
        assert said.content == NO_EMBEDS and not said.embeds
        # /ask still works there: interaction responses may always embed.
        handle = await fake_discord.send_command("ask", {"question": QUESTION}, channel=channel)
        assert "six-week truce" in all_text(await handle.next("followup"))

    run_bot(fake_discord, config, body)


# -- a long question, errors after a public deferral ----------------------------------------


def test_a_300_character_question_names_its_thread_within_the_limit(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    question = ("What did the mediators propose in the ceasefire talks in Cairo " * 6)[:300]

    async def body(client: GeobotClient) -> None:
        asked = await fake_discord.send_message(question, mention_bot=True)
        thread = await asked.next("thread_create")
        name = thread.payload["name"]
        assert len(name) <= 100 and name.startswith("What did the mediators")
        answer = await asked.next("message")
        assert answer.channel_id == thread.message_id

    run_bot(fake_discord, config, body)


def test_an_error_after_a_public_deferral_is_said_in_private(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        handle = await fake_discord.send_command("summary", {"article": 10**6})
        deferred = await handle.next("callback")
        assert deferred.callback_type == 5 and not deferred.flags & EPHEMERAL
        await handle.next("original_delete")  # the public "thinking..." goes away
        told = await handle.next("followup")
        assert "no article with id" in (told.content or "")
        assert told.message is not None and told.message["flags"] & EPHEMERAL
        # Nobody else sees it: the channel holds no trace of the failed command.
        history = fake_discord.channel_history(fake_discord.channel)
        assert not any("no article" in (m.get("content") or "") for m in history)

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("index exploded")

        client.backend.service.ask = broken  # type: ignore[method-assign,assignment]
        asked = await fake_discord.send_command("ask", {"question": "ceasefire"})
        said = await asked.next("followup")
        assert "error `" in (said.content or "")
        assert said.message is not None and said.message["flags"] & EPHEMERAL

    run_bot(fake_discord, config, body)


# -- the Message Content intent as a setting ----------------------------------------------


def test_without_the_message_content_intent_mentions_dms_and_replies_still_work(
    tmp_path: Path,
) -> None:
    fake = FakeDiscord(enabled_privileged_intents=0).start()
    try:
        config = make_config(tmp_path, fake, message_content=False)

        async def body(client: GeobotClient) -> None:
            asked = await fake.send_message(
                "Which countries tightened chip export rules?", mention_bot=True
            )
            await asked.next("thread_create")
            answer = await asked.next("message")
            assert "Japan and the Netherlands" in all_text(answer)
            # In the thread, a message without a mention arrives blank: not answered.
            blank = await fake.send_message("And China?", channel=answer.channel_id)
            await blank.expect_nothing(0.5, "message", "typing")
            # With a mention it is read, and keeps the thread's context.
            named = await fake.send_message(
                "And how did China respond?", channel=answer.channel_id, mention_bot=True
            )
            reply = await named.next("message")
            assert "gallium" in all_text(reply) or "firm response" in all_text(reply)
            answered = {
                str(a.body.get("message_reference", {}).get("message_id"))
                for a in fake.stream(lambda a: a.kind == "message").actions
            }
            assert blank.message["id"] not in answered
            # A reply that pings the bot is read too; so is a DM.
            replied = await fake.send_message(
                "And the Netherlands?", channel=answer.channel_id, reply_to=reply.message_id
            )
            await replied.next("message")
            dm = await fake.send_message("How much grain did Ukraine export?", dm=True)
            assert "Black Sea" in all_text(await dm.next("message"))

        run_bot(fake, config, body)
        assert not fake.intents & int(discord.Intents(message_content=True).value)
        assert fake.breaches == []
    finally:
        fake.stop()


def test_the_intent_refused_by_discord_stops_the_bot_with_a_clear_error(
    tmp_path: Path,
) -> None:
    fake = FakeDiscord(enabled_privileged_intents=0).start()
    try:
        config: BotConfig = make_config(tmp_path, fake)  # message_content on by default

        async def main() -> None:
            client = GeobotClient(config, lambda: make_backend(config))
            with pytest.raises(discord.PrivilegedIntentsRequired):
                async with run_client(client, fake, ready_timeout=30):
                    pass

        asyncio.run(asyncio.wait_for(main(), timeout=60))
        assert [b.rule for b in fake.take_breaches()] == ["gateway.intents"]
    finally:
        fake.stop()
