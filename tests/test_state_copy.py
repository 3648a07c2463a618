"""`geobot state copy --to`: the bot's records and the feed state, from `bot.sqlite3` and
the library's file into the PostgreSQL database shard processes share (the tests' real
server), ids kept and counts checked; run again, it skips what is there; it never mixes
records with another deployment's."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder
from test_bot_state import CHANNEL, GUILD, USER, answer

from bot.cli import AppContext, cli
from bot.server_state import Briefing, ServerSettings
from bot.state import BotState
from bot.state_copy import BOT_TABLES, FEED_TABLES, TableDatabase, copy_tables
from bot.state_db import PostgresStateDatabase, SQLiteStateDatabase
from index import Config, KnowledgeBase
from index.errors import StoreError
from index.storage.sqlite_store import SQLiteStore
from index.web.feed_store import EntryOutcome, FeedStore


def geobot(*args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder())
    )


def fill_source(data: Path) -> tuple[list[int], list[Any]]:
    """A bot's records in `data` (bot.sqlite3) and feeds in its library; the answers'
    ids and the feeds as listed."""
    state = BotState(data / "bot.sqlite3")
    try:
        ids = [
            state.record_answer(answer(q), user_id=USER, guild_id=GUILD, channel_id=CHANNEL)
            for q in ("the talks", "the truce", "the summit")
        ]
        state.attach_message(ids[0], 555, "thread:1")
        state.record_feedback(ids[0], USER, True)
        state.record_feedback(ids[1], USER + 1, False)
        state.set_value("commands_hash", "abc123")
        state.servers.save_settings(GUILD, ServerSettings(cooldown_seconds=7.5))
        state.servers.set_briefing(Briefing(GUILD, CHANNEL, at="08:00", timezone="UTC"))
        assert state.servers.claim_day(GUILD, date(2024, 4, 15))
    finally:
        state.close()
    config = Config.model_validate({"data_dir": str(data)})
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        now = datetime(2025, 3, 10, 12, 0)
        feeds = FeedStore(kb.store, clock=lambda: now)
        first, _ = feeds.add("https://news.example/rss", outlet="Wire", country="GB")
        feeds.add("https://other.example/atom")
        feeds.record_success(
            first.id,
            etag='"v1"',
            last_modified=None,
            title="Wire",
            interval=timedelta(minutes=30),
            outcomes=[
                EntryOutcome("a", "https://news.example/a", None, None),
                EntryOutcome("b", "https://news.example/b", None, "HTTP 503"),
            ],
        )
        feeds.record_failure(
            first.id + 1, "HTTP 500", interval=timedelta(minutes=30), max_backoff=timedelta(hours=4)
        )
        return ids, feeds.all()


def target_file(tmp_path: Path, url: str, name: str = "target.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f'data_dir = "{tmp_path / "target"}"\n\n[state]\nbackend = "postgres"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def rows(database: TableDatabase, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    order = ", ".join(columns)
    return database.execute(f"SELECT {order} FROM {table} ORDER BY {order}").rows


def test_records_and_feeds_are_copied_into_postgres_with_their_ids(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "source"
    ids, feeds_before = fill_source(source)
    target = target_file(tmp_path, postgres_url)

    result = geobot("--data-dir", str(source), "state", "copy", "--to", str(target))

    assert result.exit_code == 0, result.output
    where = PostgresStateDatabase(postgres_url)
    assert result.output.splitlines() == [
        f"copying to {where.describe()}",
        "bot records: 3 answers, 2 feedback, 1 bot_values, 1 server_settings, 1 briefings"
        " (copied, counts checked)",
        "feeds: 2 feeds, 2 feed_entries (copied, counts checked)",
    ]
    where.close()
    sqlite = SQLiteStateDatabase(source / "bot.sqlite3")
    library = SQLiteStore(source / "geobot.sqlite3")
    postgres = PostgresStateDatabase(postgres_url)
    try:
        from index.web.feed_database import SQLiteFeedDatabase

        # Every column (a column added to a schema must be added to the copy)...
        for table in BOT_TABLES:
            info = sqlite.execute(f"PRAGMA table_info({table.name})").rows
            assert tuple(str(row[1]) for row in info) == table.columns, table.name
        for table in FEED_TABLES:
            info = SQLiteFeedDatabase(library).execute(f"PRAGMA table_info({table.name})").rows
            assert tuple(str(row[1]) for row in info) == table.columns, table.name
        # ... of every row, as it was.
        for table in BOT_TABLES:
            assert rows(postgres, table.name, table.columns) == rows(
                sqlite, table.name, table.columns
            ), table.name
        for table in FEED_TABLES:
            assert rows(postgres, table.name, table.columns) == rows(
                SQLiteFeedDatabase(library), table.name, table.columns
            ), table.name
        # What the bot reads back through its own API: the same records.
        state = BotState(postgres)
        stored = state.get_answer(ids[0])
        assert stored is not None and stored.answer.question == "the talks"
        assert stored.message_id == 555 and state.answer_for_message(555) == stored
        assert [(v.answer_id, v.helpful) for v in state.feedback()] == [
            (ids[0], True),
            (ids[1], False),
        ]
        assert state.get_value("commands_hash") == "abc123"
        assert state.servers.settings(GUILD).cooldown_seconds == 7.5
        assert not state.servers.claim_day(GUILD, date(2024, 4, 15))  # claimed already
        assert FeedStore(postgres).all() == feeds_before
        # New ids come after the copied ones.
        assert state.record_answer(answer("next")) > max(ids)
        new_feed, _ = FeedStore(postgres).add("https://third.example/rss")
        assert new_feed.id > max(f.id for f in feeds_before)
    finally:
        sqlite.close()
        library.close()
        postgres.close()


def test_a_second_copy_skips_what_is_there_and_another_deployments_records_are_refused(
    tmp_path: Path, postgres_url: str, local_postgres: Any
) -> None:
    source = tmp_path / "source"
    fill_source(source)
    target = target_file(tmp_path, postgres_url)
    assert geobot("--data-dir", str(source), "state", "copy", "--to", str(target)).exit_code == 0

    again = geobot("--data-dir", str(source), "state", "copy", "--to", str(target))
    assert again.exit_code == 0, again.output
    assert (
        "bot records: 3 answers" in again.output and "(already there, counts equal)" in again.output
    )
    assert "feeds: 2 feeds, 2 feed_entries (already there, counts equal)" in again.output

    # A database in use by another deployment: one line, nothing written.
    other_url = local_postgres.new_database()
    other = BotState(PostgresStateDatabase(other_url))
    other.record_answer(answer("elsewhere"))
    other.close()
    refused = geobot(
        "--data-dir",
        str(source),
        "state",
        "copy",
        "--to",
        str(target_file(tmp_path, other_url, "other.toml")),
    )
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1].startswith("Error: postgresql://")
    assert "already holds bot records (1 answers): copy into a database without them" in (
        refused.output
    )
    check = PostgresStateDatabase(other_url)
    try:
        assert check.execute("SELECT count(*) FROM feedback").rows == [(0,)]
    finally:
        check.close()


def test_the_target_may_not_be_the_source(tmp_path: Path) -> None:
    source = tmp_path / "source"
    fill_source(source)
    same = tmp_path / "same.toml"
    same.write_text(f'data_dir = "{source}"\n', encoding="utf-8")
    result = geobot("--data-dir", str(source), "state", "copy", "--to", str(same))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the target is the source itself ({source / 'bot.sqlite3'}): name another "
        "[state] or data_dir\n"
    )


class DroppingTarget:
    """A target that loses one inserted row without an error (a bug, a trigger...)."""

    def __init__(self, database: PostgresStateDatabase) -> None:
        self.database = database
        self.dialect = database.dialect
        self.inserts = 0

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        if sql.startswith("INSERT INTO answers"):
            self.inserts += 1
            if self.inserts == 3:  # the one answer without feedback
                return self.database.execute("SELECT 1")
        return self.database.execute(sql, params)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.database.transaction()

    def describe(self) -> str:
        return self.database.describe()


def test_a_failed_count_check_says_which_table_and_keeps_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    fill_source(tmp_path)
    source = SQLiteStateDatabase(tmp_path / "bot.sqlite3")
    target = PostgresStateDatabase(postgres_url)
    try:
        BotState(target)
        with pytest.raises(StoreError, match=r"answers: 3 in the source, 2 copied\); nothing"):
            copy_tables(source, DroppingTarget(target), BOT_TABLES, what="bot records")
        # Rolled back: the target is as empty as before, and a new copy may run.
        for table in BOT_TABLES:
            assert target.execute(f"SELECT count(*) FROM {table.name}").rows == [(0,)]
        assert copy_tables(source, target, BOT_TABLES, what="bot records").counts["answers"] == 3
    finally:
        source.close()
        target.close()
