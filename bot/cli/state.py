"""`geobot state ...`: the bot's records (answers, feedback, server settings and
briefings, feeds) as a whole: copy them into another configuration's state database."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.context import app_context
from bot.cli.errors import GeobotGroup
from bot.cli.options import common_options
from bot.cli.rendering import echo

__all__ = ["state_copy", "state_group"]


@click.group(name="state", cls=GeobotGroup)
def state_group() -> None:
    """The bot's records: answers, feedback, server settings, briefings, feeds."""


@state_group.command(name="copy")
@click.option(
    "--to",
    "target_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The configuration file of the target: its [state] (and its data_dir, for feeds "
    "kept beside a library).",
)
@common_options
def state_copy(target_path: Path, config_path: Path | None, data_dir: Path | None) -> None:
    """Copy the bot's records and the feed state into the state database of another
    configuration (e.g. bot.sqlite3 into the PostgreSQL database shard processes share),
    ids kept, then compare the counts. Stop the bot and the poller first. Run again after
    an interruption: what was copied whole is skipped."""
    import contextlib

    from bot.config import BotConfig
    from bot.feed_state import open_feed_database
    from bot.state import BotState
    from bot.state_copy import BOT_TABLES, FEED_TABLES, CopiedGroup, copy_tables
    from bot.state_db import open_state_database
    from index import GeobotError, load_config
    from index.web.feed_store import FeedStore

    app = app_context(config_path, data_dir)
    source_config = app.config
    # The target is what its file says: GEOBOT_* variables set for the source stay out.
    target_config = load_config(target_path, environ={}, schema=BotConfig)

    def describe(group: str, copied: CopiedGroup) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in copied.counts.items())
        how = "already there, counts equal" if copied.already_there else "copied, counts checked"
        return f"{group}: {counts} ({how})"

    with contextlib.ExitStack() as stack:
        source = open_state_database(source_config.state, source_config.resolved_data_dir())
        stack.callback(source.close)
        target = open_state_database(target_config.state, target_config.resolved_data_dir())
        stack.callback(target.close)
        if source.describe() == target.describe():
            raise GeobotError(
                f"the target is the source itself ({target.describe()}): name another "
                "[state] or data_dir"
            )
        # The tables, where either side lacks them (an older bot.sqlite3, a new database).
        BotState(source)
        BotState(target)
        echo(f"copying to {target.describe()}")
        echo(describe("bot records", copy_tables(source, target, BOT_TABLES, what="bot records")))

        source_feeds = stack.enter_context(open_feed_database(source_config, source, create=False))
        if source_feeds is None:
            echo("feeds: none (the source has no library, so no feed state)")
            return
        target_feeds = stack.enter_context(open_feed_database(target_config, target, create=True))
        assert target_feeds is not None
        if source_feeds.describe() == target_feeds.describe():
            echo(f"feeds: already in {target_feeds.describe()} (the same library file)")
            return
        FeedStore(source_feeds)
        FeedStore(target_feeds)
        copied = copy_tables(source_feeds, target_feeds, FEED_TABLES, what="feeds")
        echo(describe("feeds", copied))
