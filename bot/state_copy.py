"""Copying the bot's records into another state database (`geobot state copy --to`):
typically from `bot.sqlite3` (and the library's feed tables) into the PostgreSQL database
a sharded deployment shares.

Two groups are copied, each in one transaction on the target, ids kept (the buttons on
Discord messages name answers by id, and feed entries name their feed by id):

- the bot's records: answers, feedback, named values, server settings, briefings;
- the feed state: feeds and their entries.

A group is copied into a target that holds none of it; one the target holds already with
the source's very counts was copied before (a copy interrupted between the groups is run
again) and is skipped; anything else is refused, so no record is ever overwritten or
mixed with another deployment's. Before the commit every table's rows are counted on
both sides: a copy that does not add up is rolled back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from index.errors import GeobotError, StoreError

__all__ = [
    "BOT_TABLES",
    "FEED_TABLES",
    "CopiedGroup",
    "Table",
    "TableDatabase",
    "copy_tables",
]

BATCH = 500


class _Rows(Protocol):
    @property
    def rows(self) -> list[tuple[Any, ...]]: ...


class TableDatabase(Protocol):
    """What a copy needs of either side (a `StateDatabase` or a `FeedDatabase`)."""

    @property
    def dialect(self) -> str: ...

    def execute(self, sql: str, params: Sequence[object] = ()) -> _Rows: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key: the order rows are read in
    identity: str | None = None  # a generated id column, whose sequence moves past the copy


BOT_TABLES = (
    Table(
        "answers",
        (
            "id",
            "created_at",
            "user_id",
            "guild_id",
            "channel_id",
            "conversation",
            "message_id",
            "question",
            "body",
        ),
        key=("id",),
        identity="id",
    ),
    Table("feedback", ("answer_id", "user_id", "helpful", "created_at"), ("answer_id", "user_id")),
    Table("bot_values", ("key", "value"), ("key",)),
    Table("server_settings", ("guild_id", "body", "updated_at"), ("guild_id",)),
    Table(
        "briefings",
        ("guild_id", "channel_id", "at", "timezone", "topic", "last_day", "quiet_noted"),
        ("guild_id",),
    ),
)

FEED_TABLES = (
    Table(
        "feeds",
        (
            "id",
            "url",
            "outlet",
            "country",
            "title",
            "etag",
            "last_modified",
            "added_at",
            "last_polled_at",
            "last_success_at",
            "last_error",
            "failures",
            "next_poll_at",
        ),
        key=("id",),
        identity="id",
    ),
    Table(
        "feed_entries",
        (
            "feed_id",
            "entry_key",
            "link",
            "article_id",
            "status",
            "attempts",
            "error",
            "seen_at",
            "next_attempt_at",
        ),
        ("feed_id", "entry_key"),
    ),
)


@dataclass(frozen=True)
class CopiedGroup:
    """What a copy did with one group of tables: rows per table (in both databases
    after the copy), and whether the target held them already."""

    counts: dict[str, int]
    already_there: bool = False


def _counts(database: TableDatabase, tables: Sequence[Table]) -> dict[str, int]:
    return {
        table.name: int(database.execute(f"SELECT count(*) FROM {table.name}").rows[0][0])
        for table in tables
    }


def copy_tables(
    source: TableDatabase,
    target: TableDatabase,
    tables: Sequence[Table],
    *,
    what: str,
    on_rows: Callable[[str, int], None] | None = None,
) -> CopiedGroup:
    """Copy `tables` (in order: a table before those that refer to it) from `source`
    into `target`, in one transaction, then compare the counts. `what` names the group
    in messages; `on_rows(table, rows_so_far)` hears the progress."""
    wanted = _counts(source, tables)
    present = _counts(target, tables)
    if present == wanted and any(present.values()):
        return CopiedGroup(present, already_there=True)
    if any(present.values()):
        held = ", ".join(f"{n} {name}" for name, n in present.items() if n)
        raise GeobotError(
            f"{target.describe()} already holds {what} ({held}): copy into a database without them"
        )
    with target.transaction():
        for table in tables:
            _copy_table(source, target, table, on_rows)
        # Counted inside the transaction: a copy that does not add up is rolled back.
        copied = _counts(target, tables)
        if copied != wanted:
            differ = ", ".join(
                f"{name}: {wanted[name]} in the source, {copied[name]} copied"
                for name in wanted
                if wanted[name] != copied[name]
            )
            raise StoreError(f"the count check of {what} failed ({differ}); nothing was kept")
    return CopiedGroup(copied)


def _copy_table(
    source: TableDatabase,
    target: TableDatabase,
    table: Table,
    on_rows: Callable[[str, int], None] | None,
) -> None:
    columns = ", ".join(table.columns)
    marks = ", ".join("?" * len(table.columns))
    order = ", ".join(table.key)
    done = 0
    while True:
        rows = source.execute(
            f"SELECT {columns} FROM {table.name} ORDER BY {order} LIMIT ? OFFSET ?",
            (BATCH, done),
        ).rows
        for row in rows:
            target.execute(f"INSERT INTO {table.name}({columns}) VALUES ({marks})", row)
        done += len(rows)
        if on_rows is not None and rows:
            on_rows(table.name, done)
        if len(rows) < BATCH:
            break
    if table.identity is not None and target.dialect == "postgres" and done:
        # Ids were given, not generated: the next generated one must come after them.
        target.execute(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{table.identity}'), "
            f"(SELECT max({table.identity}) FROM {table.name}))"
        )
