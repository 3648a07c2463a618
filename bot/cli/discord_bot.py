"""The Discord bot's commands: run it (`geobot bot`) and export its votes (`geobot
feedback`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.context import app_context
from bot.cli.options import common_options
from bot.cli.rendering import echo
from bot.jsonable import to_jsonable

if TYPE_CHECKING:
    from bot.config import BotConfig

__all__ = ["feedback", "parse_shards", "run_bot", "with_shards"]

SHARDS_FORM = "IDS/COUNT, e.g. 0-3/8, 2/8 or 0,2,5-7/8"


def parse_shards(text: str) -> tuple[tuple[int, ...], int]:
    """`0-3/8` -> ((0, 1, 2, 3), 8): the shard ids this process runs (single ids and
    ranges, comma-separated) and the shard count. A `ValueError` says what is wrong."""
    ids_text, slash, count_text = text.strip().partition("/")
    if not slash or not ids_text.strip() or not count_text.strip():
        raise ValueError(f"expected {SHARDS_FORM}")
    try:
        count = int(count_text)
    except ValueError:
        raise ValueError(f"the shard count {count_text.strip()!r} is not a number") from None
    if not 1 <= count <= 1024:
        raise ValueError("the shard count must be between 1 and 1024")
    ids: list[int] = []
    for part in ids_text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a shard id or a range a-b") from None
        if low > high:
            raise ValueError(f"the range {part.strip()!r} runs backwards")
        ids.extend(range(low, high + 1))
    outside = [i for i in ids if not 0 <= i < count]
    if outside:
        raise ValueError(f"shard {outside[0]} is outside 0-{count - 1} (ids start at 0)")
    if len(set(ids)) != len(ids):
        raise ValueError("a shard id is listed twice")
    return tuple(ids), count


def _shards_value(_ctx: click.Context, _param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    try:
        return parse_shards(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}") from None


def with_shards(config: BotConfig, shards: tuple[tuple[int, ...], int] | None) -> BotConfig:
    """`config` with `--shards` in place of `[discord] shards` and `shard_ids` (the flag
    wins over the file and the environment, for both keys together)."""
    if shards is None:
        return config
    ids, count = shards
    discord = config.discord.model_validate(
        {**config.discord.model_dump(), "shards": count, "shard_ids": ids}
    )
    return config.model_copy(update={"discord": discord})


@click.command(name="bot")
@click.option(
    "--sync",
    "force_sync",
    is_flag=True,
    help="Sync the slash commands with Discord even if they did not change since the "
    "last sync (by default they are synced only when they changed).",
)
@click.option(
    "--shards",
    "shards",
    metavar="IDS/COUNT",
    callback=_shards_value,
    help="The shards this process runs, of how many: 0-3/8 (another process runs 4-7/8), "
    "2/8, 0,2/8. Overrides [discord] shards and shard_ids.",
)
@common_options
def run_bot(
    force_sync: bool,
    shards: tuple[tuple[int, ...], int] | None,
    config_path: Path | None,
    data_dir: Path | None,
) -> None:
    """Run the Discord bot (its token comes from the DISCORD_TOKEN environment variable)."""
    import os

    import discord

    from bot.discord.runner import run

    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise click.ClickException(
            "DISCORD_TOKEN is not set: export the bot token from the Discord developer "
            "portal as DISCORD_TOKEN (it is never read from a file)"
        )
    app = app_context(config_path, data_dir)
    config = with_shards(app.config, shards)
    try:
        run(config, app.embedder, token, force_sync=force_sync)
    except discord.PrivilegedIntentsRequired:
        raise click.ClickException(
            "Discord refused the Message Content intent: enable it for the bot in the "
            "developer portal (Bot > Privileged Gateway Intents), or set "
            "[discord] message_content = false"
        ) from None


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@common_options
def feedback(
    fmt: str, output: Path | None, config_path: Path | None, data_dir: Path | None
) -> None:
    """Export the helpful / not helpful votes left on the bot's answers."""
    from bot.feedback_export import feedback_csv
    from bot.state import open_bot_state

    app = app_context(config_path, data_dir)
    state = open_bot_state(app.config)
    try:
        votes = state.feedback()
    finally:
        state.close()
    rows = [to_jsonable(r) for r in votes]
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        text = feedback_csv(votes)
    if output is None:
        # Data, like --json: written as it is (CSV's own line endings included).
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        echo(f"wrote {len(rows)} votes to {output}", err=True)
