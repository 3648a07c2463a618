"""The bot as discord.py's AutoShardedClient (`[discord] shards`), on a fake Discord that
serves two shards: each shard gets only its guilds' events, and the bot answers in both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord
import pytest
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.objects import Permission
from fake_discord.server import FakeDiscord
from test_discord_bot import all_text, make_backend, make_config

from bot.config import BotConfig
from bot.discord import GeobotClient
from bot.discord.app import ShardedGeobotClient, build_client

fake_discord = fixtures.fake_discord


class QuickShards(ShardedGeobotClient):
    """Identifies every shard at once: discord.py waits 5 s between shards by default
    (Discord's identify rate limit), which the fake does not enforce."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def second_guild(fake: FakeDiscord) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A guild on the other of two shards, with a channel and an admin."""
    other_shard = 1 - fake.shard_of(fake.guild.id, 2)
    guild = fake.add_guild("Second Guild", shard=(other_shard, 2))
    admin_role = fake.add_role(guild, "Admin", Permission.MANAGE_GUILD)
    channel = fake.add_text_channel(guild, "world")
    admin = fake.add_member(guild, fake.add_user("carol"), roles=[admin_role])
    return guild, channel, admin


def test_shard_setting_picks_the_client() -> None:
    assert type(build_client(BotConfig(), lambda: None)) is GeobotClient  # type: ignore[arg-type,return-value]
    for shards in (2, "auto"):
        config = BotConfig.model_validate({"discord": {"shards": shards}})
        client = build_client(config, lambda: None)  # type: ignore[arg-type,return-value]
        assert isinstance(client, discord.AutoShardedClient)
        assert client.shard_count == (None if shards == "auto" else 2)
    with pytest.raises(ValueError):
        BotConfig.model_validate({"discord": {"shards": 0}})
    # A process running some of the shards (the others run in other processes).
    config = BotConfig.model_validate({"discord": {"shards": 8, "shard_ids": [4, 5, 6, 7]}})
    client = build_client(config, lambda: None)  # type: ignore[arg-type,return-value]
    assert isinstance(client, discord.AutoShardedClient)
    assert (client.shard_count, client.shard_ids) == (8, [4, 5, 6, 7])
    for wrong in ({"shards": "auto", "shard_ids": [0]}, {"shards": 2, "shard_ids": [2]}):
        with pytest.raises(ValueError, match="shard_ids"):
            BotConfig.model_validate({"discord": wrong})
    with pytest.raises(ValueError, match="once"):
        BotConfig.model_validate({"discord": {"shards": 2, "shard_ids": [1, 1]}})


@pytest.mark.parametrize("shards", ["auto", 2])
def test_two_shards_each_carry_their_guilds_and_the_bot_answers_in_both(
    fake_discord: FakeDiscord, tmp_path: Path, shards: int | str
) -> None:
    fake_discord.gateway_shards = 2  # what Discord recommends ("auto" asks for it)
    guild, channel, admin = second_guild(fake_discord)
    config = make_config(tmp_path, fake_discord, shards=shards, dev_guild_id=None)

    async def main() -> None:
        client = QuickShards(config, lambda: make_backend(config))
        async with run_client(client, fake_discord):
            assert client.shard_count == 2
            identified = fake_discord.shards
            assert sorted(identified) == [0, 1]
            assert all(p["shard"] == [i, 2] for i, p in identified.items())
            # Each shard was sent its own guild, and only that one.
            home = fake_discord.shard_of(fake_discord.guild.id, 2)
            assert fake_discord.shard_guilds == {
                home: (fake_discord.guild.id,),
                1 - home: (guild.id,),
            }
            assert {g.id for g in client.guilds} == {int(fake_discord.guild.id), int(guild.id)}
            assert client.get_guild(int(guild.id)).shard_id == fake_discord.shard_of(guild.id, 2)  # type: ignore[union-attr]

            question = {"question": "What did the mediators propose in the ceasefire talks?"}
            here = await fake_discord.send_command("ask", question)
            there = await fake_discord.send_command("ask", question, user=admin, channel=channel)
            for handle in (here, there):
                assert "six-week truce" in all_text(await handle.next("followup"))
            mention = await fake_discord.send_message(
                "Which countries tightened chip export rules?",
                mention_bot=True,
                channel=channel,
                author=admin,
            )
            assert "Japan and the Netherlands" in all_text(await mention.next("message"))
            status = await fake_discord.send_command("status", {}, user=admin, channel=channel)
            fields = {
                f["name"]: f["value"] for f in (await status.next("followup")).embeds[0]["fields"]
            }
            assert fields["Shards"] == "2"

    asyncio.run(asyncio.wait_for(main(), timeout=60))
