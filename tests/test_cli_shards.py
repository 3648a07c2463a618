"""`geobot bot --shards IDS/COUNT`: the shards one process runs, over `[discord] shards`
and `shard_ids`; a bad value is one usage line, before anything loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.cli.discord_bot import parse_shards
from bot.config import BotConfig
from bot.discord.app import ShardedGeobotClient, build_client


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[BotConfig]:
    """The configuration each `geobot bot` would have run with (nothing connects)."""
    import bot.discord.runner

    seen: list[BotConfig] = []

    def fake_run(config: BotConfig, embedder: object, token: str, *, force_sync: bool) -> None:
        seen.append(config)

    monkeypatch.setattr(bot.discord.runner, "run", fake_run)
    return seen


def geobot_bot(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), *args],
        env={"DISCORD_TOKEN": "x", **(env or {})},
    )


@pytest.mark.parametrize(
    ("flag", "ids", "count"),
    [
        ("0-3/8", (0, 1, 2, 3), 8),
        ("2/8", (2,), 8),
        ("0,2/8", (0, 2), 8),
        (" 0, 2 ,5-7/8", (0, 2, 5, 6, 7), 8),
        ("0/1", (0,), 1),
        ("1023/1024", (1023,), 1024),
    ],
)
def test_the_flag_sets_the_shards_of_this_process(
    tmp_path: Path, started: list[BotConfig], flag: str, ids: tuple[int, ...], count: int
) -> None:
    assert parse_shards(flag) == (ids, count)
    result = geobot_bot(tmp_path, "bot", "--shards", flag)
    assert result.exit_code == 0, result.output
    (config,) = started
    assert (config.discord.shards, config.discord.shard_ids) == (count, ids)


def test_the_flag_wins_over_the_file_and_the_environment(
    tmp_path: Path, started: list[BotConfig]
) -> None:
    config_file = tmp_path / "geobot.toml"
    config_file.write_text(
        "[discord]\nshards = 4\nshard_ids = [0, 1]\nworkers = 3\n", encoding="utf-8"
    )
    from_file = geobot_bot(tmp_path, "--config", str(config_file), "bot")
    assert from_file.exit_code == 0, from_file.output
    flagged = geobot_bot(
        tmp_path,
        "--config",
        str(config_file),
        "bot",
        "--shards",
        "4-7/8",
        env={"GEOBOT_DISCORD__SHARDS": "16"},
    )
    assert flagged.exit_code == 0, flagged.output
    file_config, flag_config = started
    assert (file_config.discord.shards, file_config.discord.shard_ids) == (4, (0, 1))
    assert (flag_config.discord.shards, flag_config.discord.shard_ids) == (8, (4, 5, 6, 7))
    assert flag_config.discord.workers == 3  # the rest of the file still holds
    client = build_client(flag_config, lambda: None)  # type: ignore[arg-type,return-value]
    assert isinstance(client, ShardedGeobotClient)
    assert (client.shard_count, client.shard_ids) == (8, [4, 5, 6, 7])


@pytest.mark.parametrize(
    ("flag", "why"),
    [
        ("8", "expected IDS/COUNT, e.g. 0-3/8, 2/8 or 0,2,5-7/8"),
        ("0-3", "expected IDS/COUNT, e.g. 0-3/8, 2/8 or 0,2,5-7/8"),
        ("/8", "expected IDS/COUNT, e.g. 0-3/8, 2/8 or 0,2,5-7/8"),
        ("0/eight", "the shard count 'eight' is not a number"),
        ("0/0", "the shard count must be between 1 and 1024"),
        ("0/2000", "the shard count must be between 1 and 1024"),
        ("a/8", "'a' is not a shard id or a range a-b"),
        ("0,,1/8", "'' is not a shard id or a range a-b"),
        ("5-2/8", "the range '5-2' runs backwards"),
        ("8/8", "shard 8 is outside 0-7 (ids start at 0)"),
        ("-1/8", "'-1' is not a shard id or a range a-b"),
        ("0-3,2/8", "a shard id is listed twice"),
    ],
)
def test_a_bad_value_is_one_usage_line(
    tmp_path: Path, started: list[BotConfig], flag: str, why: str
) -> None:
    result = geobot_bot(tmp_path, "bot", "--shards", flag)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: invalid value for '--shards': {flag!r}: {why}; see 'geobot bot --help'\n"
    )
    assert started == []
