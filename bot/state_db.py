"""The database under the bot's records (`BotState`, `ServerStore`): SQLite by default
(`bot.sqlite3` beside the knowledge base), or PostgreSQL, one database that every shard
process of a bot shares (`[state] backend = "postgres"`, the `postgres` extra).

The records' SQL is written once, with `?` placeholders, in statements both engines run
alike (`INSERT ... ON CONFLICT ... DO UPDATE`, `RETURNING`, a conditional `UPDATE` for
the briefing day claim); a `StateDatabase` runs it on its engine. Only the schema is
written per engine (PostgreSQL needs 64-bit columns for Discord ids).

Each implementation keeps one connection behind a lock: the bot's writes are tiny, and a
transaction must not interleave with another thread's statements on the same connection.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.config import StateConfig
from index.errors import StoreError

__all__ = [
    "PostgresStateDatabase",
    "Rows",
    "SQLiteStateDatabase",
    "StateDatabase",
    "open_state_database",
]

SQLITE_FILE = "bot.sqlite3"

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Rows:
    """What a statement gave: its rows (empty for a write) and how many rows it changed."""

    rows: list[tuple[Any, ...]]
    rowcount: int

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


class StateDatabase(Protocol):
    """What the bot's records need from a database."""

    dialect: Dialect
    # Appended to a SELECT inside `transaction()` that reads a row to rewrite it: locks
    # the row until the transaction ends (SQLite's BEGIN IMMEDIATE locks the whole file).
    row_lock: str

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        """One statement with `?` placeholders; committed at once outside `transaction`."""
        ...

    def run_script(self, script: str) -> None:
        """Schema statements (no parameters), applied once however many processes start."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """Statements run inside commit together, or not at all (an exception rolls back)."""
        ...

    def describe(self) -> str:
        """Where the records are, for messages (never with a password)."""
        ...

    def close(self) -> None: ...


class SQLiteStateDatabase:
    """`bot.sqlite3`: WAL mode, so other processes on this machine may read and write it."""

    dialect: Dialect = "sqlite"
    row_lock = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(f"cannot open the bot's database {path}: {exc}") from None
        self._lock = threading.RLock()

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        with self._lock:
            cursor = self._conn.execute(sql, tuple(params))
            rows = cursor.fetchall()
            return Rows(rows, cursor.rowcount)

    def run_script(self, script: str) -> None:
        with self._lock:
            try:
                self._conn.executescript(script)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open the bot's database {self.path}: {exc}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._conn.in_transaction:  # nested: part of the outer one
                yield
                return
            # IMMEDIATE takes the write lock at once: another process's read-modify-write
            # of the same rows waits for this one instead of failing at commit.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresStateDatabase:
    """One PostgreSQL database shared by every bot process (psycopg 3).

    Statements run in autocommit (each its own transaction) unless inside `transaction()`.
    A connection that broke (the server restarted, the network dropped) fails the
    statement it broke under with a `StoreError`, and the next statement reconnects.
    """

    dialect: Dialect = "postgres"
    row_lock = " FOR UPDATE"

    def __init__(self, url: str, *, password: str | None = None, connect_timeout_s: int = 10):
        try:
            import psycopg
            from psycopg import conninfo
        except ImportError:
            raise StoreError(
                "[state] backend = 'postgres' needs psycopg: pip install 'geobot[postgres]'"
            ) from None
        self._psycopg = psycopg
        # Every form of the password that might surface in an error message.
        self._secrets = {s for s in (password, _url_password(url, conninfo)) if s}
        try:
            parts = conninfo.conninfo_to_dict(url)
        except psycopg.Error:
            raise StoreError(
                "[state] url is not a PostgreSQL connection URL "
                "(expected e.g. postgresql://geobot@db.example:5432/geobot)"
            ) from None
        self._where = _describe_conninfo(parts)
        self._options: dict[str, Any] = {"autocommit": True, "connect_timeout": connect_timeout_s}
        if password:
            self._options["password"] = password
        self._url = url
        self._lock = threading.RLock()
        self._in_transaction = False
        self._conn: Any = None
        with self._lock:
            self._connection()

    def _connection(self) -> Any:
        # Called with the lock held.
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            try:
                self._conn = self._psycopg.connect(self._url, **self._options)
            except self._psycopg.Error as exc:
                self._conn = None
                raise self._error("cannot connect to", exc) from None
        return self._conn

    def _error(self, doing: str, exc: Exception) -> StoreError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return StoreError(f"{doing} the bot's database {self._where}: {message}")

    def execute(self, sql: str, params: Sequence[object] = ()) -> Rows:
        # psycopg's placeholder is %s, and a literal % must be doubled.
        query = sql.replace("%", "%%").replace("?", "%s")
        with self._lock:
            conn = self._connection()
            try:
                cursor = conn.execute(query, tuple(params))
                rows = cursor.fetchall() if cursor.description is not None else []
            except self._psycopg.OperationalError as exc:
                raise self._error("lost", exc) from None
            return Rows([tuple(r) for r in rows], cursor.rowcount)

    def run_script(self, script: str) -> None:
        with self._lock, self.transaction():
            conn = self._connection()
            # CREATE ... IF NOT EXISTS is not safe against a second process doing the
            # same at the same moment; a transaction-scoped advisory lock serialises it.
            conn.execute("SELECT pg_advisory_xact_lock(8417300551)")
            conn.execute(script)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._in_transaction:  # nested: part of the outer one
                yield
                return
            conn = self._connection()
            self._in_transaction = True
            try:
                with conn.transaction():
                    yield
            except self._psycopg.OperationalError as exc:
                raise self._error("lost", exc) from None
            finally:
                self._in_transaction = False

    def describe(self) -> str:
        return self._where

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _url_password(url: str, conninfo: Any) -> str | None:
    try:
        password = conninfo.conninfo_to_dict(url).get("password")
    except Exception:  # a malformed URL: reported without its text
        return None
    return str(password) if password else None


def _describe_conninfo(parts: dict[str, Any]) -> str:
    """`postgresql://user@host:port/dbname`, whatever form the URL had, no password."""
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def open_state_database(config: StateConfig, data_dir: Path) -> StateDatabase:
    """The database `[state]` names: `bot.sqlite3` in `data_dir`, or the PostgreSQL
    database at `url` (its password from the environment variable `password_env`)."""
    if config.backend == "sqlite":
        return SQLiteStateDatabase(data_dir / SQLITE_FILE)
    return PostgresStateDatabase(
        config.url.strip(),
        password=os.environ.get(config.password_env) or None,
        connect_timeout_s=config.connect_timeout_s,
    )
