"""The database under the feed state (`FeedStore`): what it needs from one, and the
default, the knowledge base's own SQLite file.

The feed store's SQL is written once, with `?` placeholders, in statements SQLite and
PostgreSQL run alike; a `FeedDatabase` runs it. The knowledge base's SQLite file is the
default (`SQLiteFeedDatabase`). A shared deployment passes another: the bot's PostgreSQL
state database (`bot.state_db.PostgresStateDatabase`) has this very shape, so feed state
lives beside the bot's records and every process on every machine sees one feed list.
This module only says what is needed; `index` never imports the bot or a PostgreSQL
driver.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from index.storage.sqlite_files import store_error
from index.storage.sqlite_store import SQLiteStore

__all__ = ["FeedDatabase", "SQLiteFeedDatabase", "StatementRows"]


class StatementRows(Protocol):
    """What a statement gave."""

    @property
    def rows(self) -> list[tuple[Any, ...]]: ...

    @property
    def rowcount(self) -> int: ...


class FeedDatabase(Protocol):
    """What the feed state needs from a database."""

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgres": which schema the feed tables get."""
        ...

    @property
    def row_lock(self) -> str:
        """Appended to a SELECT inside `transaction()` that reads a row to rewrite it
        (" FOR UPDATE" on PostgreSQL; SQLite's write transaction locks the whole file)."""
        ...

    def execute(self, sql: str, params: Sequence[object] = ()) -> StatementRows:
        """One statement with `?` placeholders; committed at once outside `transaction`."""
        ...

    def run_script(self, script: str) -> None:
        """Schema statements, applied once however many processes start together."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Statements run inside commit together, or not at all."""
        ...

    def describe(self) -> str:
        """Where the feeds are, for messages (never with a password)."""
        ...


@dataclass(frozen=True)
class _Rows:
    rows: list[tuple[Any, ...]]
    rowcount: int


class SQLiteFeedDatabase:
    """The feed tables in a knowledge base's SQLite file (or, beside a library on
    another backend, the data folder's `state.sqlite3`): reads on this thread's reader,
    `transaction()` on the store's writer (`SQLiteStore.write`, which leaves the search
    generation alone). SQLite errors come out as the store's own do: a damaged file as a
    `DamagedStoreError`, a full disk or a lock as a `StoreError`."""

    dialect = "sqlite"
    row_lock = ""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        # The writer connection while this thread is inside transaction().
        self._local = threading.local()

    def execute(self, sql: str, params: Sequence[object] = ()) -> _Rows:
        conn: sqlite3.Connection = getattr(self._local, "writer", None) or self.store.read()
        try:
            cursor = conn.execute(sql, tuple(params))
            return _Rows([tuple(row) for row in cursor.fetchall()], cursor.rowcount)
        except sqlite3.Error as exc:
            error = store_error(exc, self.store.path)
            if error is None:
                raise
            raise error from exc

    def run_script(self, script: str) -> None:
        self.store.ensure_schema(script)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "writer", None) is not None:  # nested: part of the outer one
            yield
            return
        with self.store.write() as writer:
            self._local.writer = writer
            try:
                yield
            finally:
                self._local.writer = None

    def describe(self) -> str:
        return str(self.store.path)
