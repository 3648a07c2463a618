"""The Discord bot's commands: run it (`geobot bot`) and export its votes (`geobot
feedback`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.context import app_context
from bot.cli.options import common_options
from bot.cli.rendering import echo
from bot.jsonable import to_jsonable

__all__ = ["feedback", "run_bot"]


@click.command(name="bot")
@click.option(
    "--sync",
    "force_sync",
    is_flag=True,
    help="Sync the slash commands with Discord even if they did not change since the "
    "last sync (by default they are synced only when they changed).",
)
@common_options
def run_bot(force_sync: bool, config_path: Path | None, data_dir: Path | None) -> None:
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
    try:
        run(app.config, app.embedder, token, force_sync=force_sync)
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
