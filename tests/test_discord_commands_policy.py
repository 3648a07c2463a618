"""Policies every slash command keeps: admin commands refuse plain members, autocomplete
within Discord's 25 choices (and silent outside the bot's channels), cooldowns, the
/sources pager (owner-checked, disabled when it times out), commands synced only when
they changed.

The real bot, on the real discord.py client, against the fake Discord.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
from click.testing import CliRunner
from corpus import news_article
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.records import wait_until
from fake_discord.server import FakeDiscord
from test_discord_bot import custom_ids, make_backend, make_config, run_bot

from bot.cli import cli
from bot.config import BotConfig
from bot.discord import Backend, GeobotClient
from bot.discord.buttons import SourcesPageButton
from bot.discord.choices import ArticleTitle, ChoiceCache, ChoiceSnapshot
from bot.discord.cooldowns import Cooldowns

fake_discord = fixtures.fake_discord

EPHEMERAL = 64
AUTOCOMPLETE_RESULT = 8


def admin_commands(synced: list[dict[str, Any]]) -> set[str]:
    """Every runnable admin command ("feeds add", "stats"...) in a synced payload."""
    names: set[str] = set()
    for command in synced:
        if command.get("default_member_permissions") is None:
            continue
        subs = [o["name"] for o in command.get("options", []) if o["type"] == 1]
        names |= {f"{command['name']} {s}" for s in subs} if subs else {command["name"]}
    return names


def test_a_plain_member_is_refused_every_admin_command(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    upload = ("new.jsonl", b'{"title": "Fresh", "text": "A fresh report on rail strikes."}\n')
    options: dict[str, dict[str, Any]] = {
        "ingest": {"file": upload},
        "remove": {"article": 1},
        "stats": {},
        "feeds add": {"url": "https://news.example/feed.xml"},
        "feeds list": {},
        "feeds remove": {"url": "https://news.example/feed.xml"},
        "feeds poll": {},
        "feedback export": {},
        "briefing set": {
            "time": "11:00",
            "timezone": "Europe/Paris",
            "channel": fake_discord.channel["id"],
        },
        "briefing now": {},
        "briefing off": {},
    }

    async def body(client: GeobotClient) -> None:
        sync = await fake_discord.stream(lambda a: a.kind == "commands_sync").next()
        # A new admin command must be added here, so that this test covers it.
        assert admin_commands(sync.payload) == set(options)
        for name, values in options.items():
            refused = await fake_discord.send_command(name, values, user=fake_discord.member)
            reply = await refused.next("callback")
            assert reply.callback_type == 4 and reply.flags & EPHEMERAL, name
            assert "Manage Server" in (reply.content or ""), name
        assert await client.offload(client.backend.kb.article_count) == 8
        assert await client.offload(client.feeds.all) == []
        assert client.backend.state.servers.briefings() == []

    run_bot(fake_discord, config, body)


# -- autocomplete ----------------------------------------------------------------------------


def many_articles(count: int) -> list[Any]:
    day = datetime(2024, 5, 1, 9, 0)
    return [
        news_article(
            f"chips-{i}",
            f"Chip export story number {i}",
            f"Officials discussed chip export licences for the {i}th time this spring.",
            day + timedelta(hours=i),
            f"Outlet {i:02d}",
        )
        for i in range(30)
    ][:count]


def test_autocomplete_with_30_candidates_offers_25(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    def backend() -> Backend:
        made = make_backend(config)
        made.kb.ingest_articles(many_articles(30))
        return made

    async def main() -> None:
        client = GeobotClient(config, backend)
        async with run_client(client, fake_discord, ready_timeout=30):
            typed = await fake_discord.send_autocomplete(
                "summary", {"article": "chip export story"}, focused="article"
            )
            choices = (await typed.next("callback")).payload["data"]["choices"]
            assert len(choices) == 25
            # Newest first.
            assert choices[0]["name"].endswith("Chip export story number 29")
            outlets = await fake_discord.send_autocomplete(
                "ask", {"question": "x", "outlet": "Outlet"}, focused="outlet"
            )
            offered = (await outlets.next("callback")).payload["data"]["choices"]
            assert len(offered) == 25 and all(c["value"].startswith("Outlet") for c in offered)
            # An id typed as a number comes first.
            by_id = await fake_discord.send_autocomplete("remove", {"article": "3"}, "article")
            first = (await by_id.next("callback")).payload["data"]["choices"][0]
            assert first["value"] == 3

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_autocomplete_sees_what_the_bot_just_ingested(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    upload = ("new.jsonl", b'{"title": "Fresh rail strike", "text": "Rail workers struck."}\n')

    async def body(client: GeobotClient) -> None:
        before = await fake_discord.send_autocomplete("summary", {"article": "rail"}, "article")
        assert (await before.next("callback")).payload["data"]["choices"] == []
        added = await fake_discord.send_command("ingest", {"file": upload}, user=fake_discord.admin)
        await added.next("followup")
        after = await fake_discord.send_autocomplete("summary", {"article": "rail"}, "article")
        (choice,) = (await after.next("callback")).payload["data"]["choices"]
        assert "Fresh rail strike" in choice["name"]
        removed = await fake_discord.send_command(
            "remove", {"article": choice["value"]}, user=fake_discord.admin
        )
        await removed.next("followup")
        gone = await fake_discord.send_autocomplete("summary", {"article": "rail"}, "article")
        assert (await gone.next("callback")).payload["data"]["choices"] == []

    run_bot(fake_discord, config, body)


def test_autocomplete_outside_the_allowed_channels_offers_nothing(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path, fake_discord, allowed_channel_ids=[int(fake_discord.other_channel["id"])]
    )

    async def body(client: GeobotClient) -> None:
        outside = await fake_discord.send_autocomplete("summary", {"article": "chip"}, "article")
        callback = await outside.next("callback")
        assert callback.callback_type == AUTOCOMPLETE_RESULT
        assert callback.payload["data"]["choices"] == []
        inside = await fake_discord.send_autocomplete(
            "summary", {"article": "chip"}, "article", channel=fake_discord.other_channel
        )
        assert len((await inside.next("callback")).payload["data"]["choices"]) == 1

    run_bot(fake_discord, config, body)


# -- cooldowns -------------------------------------------------------------------------------


def test_a_rejected_input_does_not_use_the_cooldown(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord, cooldown_seconds=60)

    async def body(client: GeobotClient) -> None:
        for name, values in (
            ("summary", {"topic": "ceasefire", "since": "last week"}),
            ("summary", {}),
            ("ask", {"question": "ceasefire", "until": "soon"}),
            ("ask", {"question": "ceasefire", "country": "1A"}),
            ("search", {"query": "ceasefire", "country": "1A"}),
        ):
            bad = await fake_discord.send_command(name, values)
            refused = await bad.next("callback")
            assert refused.callback_type == 4 and refused.flags & EPHEMERAL, (name, values)
            assert "Please wait" not in (refused.content or ""), (name, values)
        good = await fake_discord.send_command("summary", {"topic": "ceasefire"})
        assert (await good.next("callback")).callback_type == 5

    run_bot(fake_discord, config, body)


def test_search_has_a_cooldown(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, cooldown_seconds=60)

    async def body(client: GeobotClient) -> None:
        first = await fake_discord.send_command("search", {"query": "grain"})
        await first.next("followup")
        second = await fake_discord.send_command("search", {"query": "grain"})
        refused = await second.next("callback")
        assert refused.flags & EPHEMERAL and "Please wait" in (refused.content or "")

    run_bot(fake_discord, config, body)


def test_the_cooldown_table_is_pruned() -> None:
    now = [0.0]
    cooldowns = Cooldowns(10.0, clock=lambda: now[0], prune_at=8)
    for user in range(100):
        assert cooldowns.remaining(user) == 0.0
        now[0] += 1.0
    # Only the users of the last 10 seconds can still be waiting; the rest are gone.
    assert len(cooldowns) <= 2 * 10
    assert cooldowns.remaining(99) > 0  # a pause under way is kept
    now[0] += 1000.0
    for user in range(1000, 1100):
        cooldowns.remaining(user)
    assert len(cooldowns) <= 2 * 100


# -- the /sources pager ----------------------------------------------------------------------


def next_button(action: Any) -> str:
    return next(i for i in custom_ids(action) if i.endswith(":next"))


def buttons_disabled(message: dict[str, Any]) -> list[bool]:
    return [c.get("disabled", False) for row in message["components"] for c in row["components"]]


def test_the_pager_answers_its_owner_only(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    config = make_config(tmp_path, fake_discord, sources_page_size=3)

    async def body(client: GeobotClient) -> None:
        listing = await fake_discord.send_command("sources", {})
        page1 = await listing.next("followup")
        other = await fake_discord.send_component(
            page1.message_id, next_button(page1), user=fake_discord.admin
        )
        refused = await other.next("callback")
        assert refused.callback_type == 4 and refused.flags & EPHEMERAL
        assert "Run /sources yourself" in (refused.content or "")
        assert "page 1/3" in fake_discord.messages[str(page1.message_id)]["embeds"][0]["title"]
        mine = await fake_discord.send_component(page1.message_id, next_button(page1))
        page2 = await mine.next("original_edit")
        assert "page 2/3" in page2.embeds[0]["title"]
        assert buttons_disabled(fake_discord.messages[str(page1.message_id)]) == [False, False]

    run_bot(fake_discord, config, body)


def test_the_pager_is_disabled_when_it_times_out(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, fake_discord, sources_page_size=3)
    monkeypatch.setattr(SourcesPageButton, "lifetime_seconds", 0.3)

    async def body(client: GeobotClient) -> None:
        listing = await fake_discord.send_command("sources", {})
        page1 = await listing.next("followup")
        assert buttons_disabled(page1.body) == [True, False]  # as sent
        edited = await listing.next("followup_edit", "original_edit", timeout=30)
        assert edited.message is not None and buttons_disabled(edited.message) == [True, True]
        assert "page 1/3" in edited.message["embeds"][0]["title"]  # the list stays

    run_bot(fake_discord, config, body)


def test_a_click_on_a_pager_that_expired_while_the_bot_was_down_disables_it(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, fake_discord, sources_page_size=3)

    async def main() -> None:
        client = GeobotClient(config, lambda: make_backend(config))
        async with run_client(client, fake_discord, ready_timeout=30):
            listing = await fake_discord.send_command("sources", {})
            page1 = await listing.next("followup")
        monkeypatch.setattr(SourcesPageButton, "lifetime_seconds", 0.0)
        restarted = GeobotClient(config, lambda: make_backend(config))
        async with run_client(restarted, fake_discord, ready_timeout=30):
            click = await fake_discord.send_component(page1.message_id, next_button(page1))
            updated = await click.next("callback")
            assert updated.callback_type == 7
            told = await click.next("followup")
            assert told.flags & EPHEMERAL and "expired" in (told.content or "")
            message = fake_discord.messages[str(page1.message_id)]
            assert buttons_disabled(message) == [True, True]
            assert "page 1/3" in message["embeds"][0]["title"]

    asyncio.run(asyncio.wait_for(main(), timeout=60))


# -- syncing the commands ------------------------------------------------------------------


def test_commands_sync_again_only_when_they_change_or_when_forced(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)
    syncs = fake_discord.stream(lambda a: a.kind == "commands_sync")

    async def start(client: GeobotClient) -> None:
        async with run_client(client, fake_discord, ready_timeout=30):
            handle = await fake_discord.send_command("help", {})
            await handle.next("followup")

    @discord.app_commands.command()
    async def extra(interaction: discord.Interaction[Any]) -> None:
        """A command added in a new version of the bot."""

    async def main() -> None:
        await start(GeobotClient(config, lambda: make_backend(config)))
        assert len(syncs.actions) == 1
        await start(GeobotClient(config, lambda: make_backend(config)))
        assert len(syncs.actions) == 1  # unchanged: not synced
        changed = GeobotClient(config, lambda: make_backend(config))
        changed.tree.add_command(extra)
        await start(changed)
        assert len(syncs.actions) == 2
        assert "extra" in {c["name"] for c in syncs.actions[-1].payload}
        forced = GeobotClient(config, lambda: make_backend(config), force_sync=True)
        forced.tree.add_command(extra)
        await start(forced)
        assert len(syncs.actions) == 3  # forced, though unchanged since the last sync

    asyncio.run(asyncio.wait_for(main(), timeout=90))


def test_geobot_bot_sync_forces_a_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.discord.runner

    seen: list[bool] = []

    def fake_run(config: BotConfig, embedder: object, token: str, *, force_sync: bool) -> None:
        seen.append(force_sync)

    monkeypatch.setattr(bot.discord.runner, "run", fake_run)
    for args, expected in ((["bot"], False), (["bot", "--sync"], True)):
        result = CliRunner().invoke(
            cli, ["--data-dir", str(tmp_path), *args], env={"DISCORD_TOKEN": "x"}
        )
        assert result.exit_code == 0, result.output
        assert seen[-1] is expected


def test_a_refused_intent_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.discord.runner

    def refused(config: BotConfig, embedder: object, token: str, *, force_sync: bool) -> None:
        raise discord.PrivilegedIntentsRequired(None)

    monkeypatch.setattr(bot.discord.runner, "run", refused)
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "bot"], env={"DISCORD_TOKEN": "x"}
    )
    assert result.exit_code == 1
    assert "message_content = false" in result.output and "Traceback" not in result.output


def test_stale_choices_are_reloaded_in_the_background() -> None:
    """Changes made by another process (e.g. `geobot ingest`) reach autocomplete once the
    snapshot is older than its age limit; a read never waits for the load."""
    now = [0.0]
    titles = [["Old title"]]
    loads: list[int] = []

    async def load() -> ChoiceSnapshot:
        loads.append(1)
        articles = tuple(ArticleTitle(i, t, None) for i, t in enumerate(titles[0]))
        return ChoiceSnapshot(
            articles=articles, folded_titles=tuple(a.title.casefold() for a in articles)
        )

    async def main() -> None:
        cache = ChoiceCache(load, max_age_seconds=60.0, clock=lambda: now[0])
        await cache.refresh()
        titles[0] = ["Old title", "New title"]
        now[0] = 30.0
        assert [a.title for a in cache.articles("title")] == ["Old title"]
        await asyncio.sleep(0)
        assert len(loads) == 1  # fresh enough: not reloaded
        now[0] = 61.0
        assert [a.title for a in cache.articles("title")] == ["Old title"]  # no waiting
        await wait_until(lambda: len(loads) == 2, timeout=5, what="a background reload")
        await asyncio.sleep(0)
        assert [a.title for a in cache.articles("new")] == ["New title"]
        await cache.close()

    asyncio.run(main())
