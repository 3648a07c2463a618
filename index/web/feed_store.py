"""Feed state in the knowledge base's own SQLite file: the feeds, their conditional-GET
validators, the entries already taken, errors and when each feed is next due.

Kept in the same database as the articles so that one file is the whole state: a backup
or a move takes everything, and an entry is never taken twice after a restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from index.errors import BadInputError, NotFoundError
from index.sources.outlets import country_code
from index.storage.backend import StorageBackend
from index.storage.sqlite_files import sqlite_errors
from index.storage.sqlite_store import SQLiteStore
from index.web.address_policy import AddressPolicy, AddressRefusedError

__all__ = ["EntryOutcome", "EntryStates", "Feed", "FeedStore", "check_feed_url"]

FEED_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    outlet TEXT,
    country TEXT,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    added_at TEXT NOT NULL,
    last_polled_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at TEXT
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    entry_key TEXT NOT NULL,
    link TEXT,
    article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('ingested', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    seen_at TEXT NOT NULL,
    next_attempt_at TEXT,
    PRIMARY KEY (feed_id, entry_key)
);
"""

# Columns added to feed_entries since its first version, added in place (ALTER TABLE ADD
# COLUMN keeps every row) to a store made by an older geobot. A failed entry of such a
# store has no next_attempt_at: it is due at once.
_ADDED_ENTRY_COLUMNS = (("next_attempt_at", "TEXT"),)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _doubling_wait(interval: timedelta, times: int, cap: timedelta) -> timedelta:
    """`interval` doubled `times` times, at most `cap`."""
    return min(interval * (1 << min(max(times, 0), 30)), cap)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ") if value else None


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def check_feed_url(url: str, *, policy: AddressPolicy | None = None) -> str:
    """`url` stripped, or a :class:`BadInputError` when it is not an http(s) URL, or when
    `policy` refuses its host as written (a loopback, private... address in any spelling,
    or a localhost name), so that such a feed is refused when it is added rather than on
    its first poll. Names are resolved, and checked again, only when fetched."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadInputError(url or "(empty)", "a feed must be an http:// or https:// URL")
    if policy is not None:
        try:
            policy.check_host(parts.hostname)
        except AddressRefusedError as exc:
            raise BadInputError(url, f"refused: {exc.reason}") from exc
    return url


@dataclass(frozen=True)
class Feed:
    """A feed and where its polling stands. Times are naive UTC."""

    id: int
    url: str
    outlet: str | None
    country: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    added_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failures: int
    next_poll_at: datetime | None
    entries_ingested: int = 0
    entries_failed: int = 0


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one feed entry in a poll."""

    key: str
    link: str | None
    article_id: int | None
    error: str | None  # None: ingested


@dataclass(frozen=True)
class EntryStates:
    """Where each of a feed's current entries stands (by key), for the next poll to choose
    from: entries never tried come first, then failed ones whose back-off is over."""

    new: frozenset[str] = frozenset()  # never tried
    retry_due: tuple[str, ...] = ()  # failed, tries left, back-off over: longest-waiting first
    retry_waiting: frozenset[str] = frozenset()  # failed, tries left, still backing off
    given_up: frozenset[str] = frozenset()  # failed `max_attempts` times: not tried again
    taken: frozenset[str] = frozenset()  # ingested in an earlier poll


_FEED_COLUMNS = (
    "f.id, f.url, f.outlet, f.country, f.title, f.etag, f.last_modified, f.added_at, "
    "f.last_polled_at, f.last_success_at, f.last_error, f.failures, f.next_poll_at, "
    "(SELECT count(*) FROM feed_entries e WHERE e.feed_id=f.id AND e.status='ingested'), "
    "(SELECT count(*) FROM feed_entries e WHERE e.feed_id=f.id AND e.status='failed')"
)


def _feed(row: tuple[object, ...]) -> Feed:
    added = _dt(row[7])
    assert added is not None
    return Feed(
        id=int(str(row[0])),
        url=str(row[1]),
        outlet=None if row[2] is None else str(row[2]),
        country=None if row[3] is None else str(row[3]),
        title=None if row[4] is None else str(row[4]),
        etag=None if row[5] is None else str(row[5]),
        last_modified=None if row[6] is None else str(row[6]),
        added_at=added,
        last_polled_at=_dt(row[8]),
        last_success_at=_dt(row[9]),
        last_error=None if row[10] is None else str(row[10]),
        failures=int(str(row[11])),
        next_poll_at=_dt(row[12]),
        entries_ingested=int(str(row[13])),
        entries_failed=int(str(row[14])),
    )


class FeedStore:
    """The feeds tables of one knowledge base's SQLite file (with another storage backend,
    the SQLite file of the data folder's own state).

    `clock` gives the time now (naive UTC): when feeds and failed entries are next due.
    """

    def __init__(
        self, store: SQLiteStore | StorageBackend, *, clock: Callable[[], datetime] = _now
    ) -> None:
        if isinstance(store, StorageBackend):
            store = store.state_database
        self._store = store
        self._clock = clock
        store.ensure_schema(FEED_SCHEMA)
        self._add_missing_columns()

    @property
    def path(self) -> Path:
        """The SQLite file the feeds live in (named by the errors of a damaged one)."""
        return self._store.path

    # Every method reads or writes SQLite directly: its errors come out as StoreErrors
    # (a DamagedStoreError for a damaged file), as the store's own methods' do.
    @sqlite_errors
    def _add_missing_columns(self) -> None:
        def missing(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            present = {str(row[1]) for row in conn.execute("PRAGMA table_info(feed_entries)")}
            return [column for column in _ADDED_ENTRY_COLUMNS if column[0] not in present]

        if not missing(self._store.read()):
            return
        with self._store.write() as conn:
            # Looked at again inside the transaction: another process may have just done it.
            for name, kind in missing(conn):
                conn.execute(f"ALTER TABLE feed_entries ADD COLUMN {name} {kind}")

    # -- the feeds ----------------------------------------------------------------------

    @sqlite_errors
    def add(
        self,
        url: str,
        *,
        outlet: str | None = None,
        country: str | None = None,
        policy: AddressPolicy | None = None,
    ) -> tuple[Feed, bool]:
        """Add a feed (due at once); an existing one gets the outlet/country given.
        `policy` refuses a feed on an internal address (see :func:`check_feed_url`).

        Returns the feed and whether it is new.
        """
        url = check_feed_url(url, policy=policy)
        if country is not None:
            code = country_code(country)
            if code is None:
                raise BadInputError(country, "a country is a two-letter ISO code such as GB")
            country = code
        with self._store.write() as conn:
            row = conn.execute("SELECT id FROM feeds WHERE url=?", (url,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO feeds(url, outlet, country, added_at, next_poll_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (url, outlet, country, _iso(self._clock()), _iso(self._clock())),
                )
            else:
                conn.execute(
                    "UPDATE feeds SET outlet=coalesce(?, outlet), country=coalesce(?, country) "
                    "WHERE id=?",
                    (outlet, country, row[0]),
                )
        return self.get(url), row is None

    @sqlite_errors
    def remove(self, url: str) -> Feed:
        """Forget a feed and its entries (the articles it brought stay)."""
        feed = self.get(url)
        with self._store.write() as conn:
            conn.execute("DELETE FROM feeds WHERE id=?", (feed.id,))
        return feed

    @sqlite_errors
    def get(self, url: str) -> Feed:
        row = (
            self._store.read()
            .execute(f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.url=?", (url.strip(),))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no feed {url.strip()!r} (see `geobot feeds list`)")
        return _feed(tuple(row))

    @sqlite_errors
    def all(self) -> list[Feed]:
        rows = self._store.read().execute(f"SELECT {_FEED_COLUMNS} FROM feeds f ORDER BY f.id")
        return [_feed(tuple(row)) for row in rows]

    @sqlite_errors
    def due(self, now: datetime | None = None) -> list[Feed]:
        """The feeds whose next poll time has come."""
        moment = _iso(now or self._clock())
        rows = self._store.read().execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds f "
            "WHERE f.next_poll_at IS NULL OR f.next_poll_at <= ? ORDER BY f.next_poll_at",
            (moment,),
        )
        return [_feed(tuple(row)) for row in rows]

    @sqlite_errors
    def next_due_at(self) -> datetime | None:
        row = self._store.read().execute("SELECT min(next_poll_at) FROM feeds").fetchone()
        return _dt(row[0]) if row else None

    # -- entries ------------------------------------------------------------------------

    @sqlite_errors
    def entry_states(self, feed_id: int, keys: Iterable[str], *, max_attempts: int) -> EntryStates:
        """Sort `keys` (a feed's current entries) by where they stand now: never tried,
        failed and due for another try (longest-waiting first), failed and backing off,
        given up after `max_attempts` tries, or taken."""
        wanted = list(dict.fromkeys(keys))
        now = self._clock()
        seen: set[str] = set()
        due: list[tuple[str, str]] = []
        waiting: set[str] = set()
        given_up: set[str] = set()
        taken: set[str] = set()
        conn = self._store.read()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT entry_key, status, attempts, next_attempt_at FROM feed_entries "
                f"WHERE feed_id=? AND entry_key IN ({marks})",
                (feed_id, *chunk),
            )
            for key, status, attempts, next_attempt_at in rows:
                key = str(key)
                seen.add(key)
                retry_at = _dt(next_attempt_at)
                if status == "ingested":
                    taken.add(key)
                elif int(attempts) >= max_attempts:
                    given_up.add(key)
                elif retry_at is None or retry_at <= now:
                    due.append((_iso(retry_at) or "", key))
                else:
                    waiting.add(key)
        return EntryStates(
            new=frozenset(key for key in wanted if key not in seen),
            retry_due=tuple(key for _, key in sorted(due)),
            retry_waiting=frozenset(waiting),
            given_up=frozenset(given_up),
            taken=frozenset(taken),
        )

    @staticmethod
    def _write_entries(
        conn: sqlite3.Connection,
        feed_id: int,
        outcomes: Iterable[EntryOutcome],
        *,
        now: datetime,
        retry_interval: timedelta,
        max_retry_wait: timedelta,
    ) -> None:
        for outcome in outcomes:
            row = conn.execute(
                "SELECT attempts FROM feed_entries WHERE feed_id=? AND entry_key=?",
                (feed_id, outcome.key),
            ).fetchone()
            attempts = 1 if row is None else int(row[0]) + 1
            # A failed entry waits before its next try, twice as long after each failure:
            # one poll interval after the first, two after the second...
            retry_at = (
                None
                if outcome.error is None
                else now + _doubling_wait(retry_interval, attempts - 1, max_retry_wait)
            )
            conn.execute(
                "INSERT INTO feed_entries(feed_id, entry_key, link, article_id, status, "
                "attempts, error, seen_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(feed_id, entry_key) DO UPDATE SET "
                "link=excluded.link, article_id=excluded.article_id, "
                "status=excluded.status, error=excluded.error, seen_at=excluded.seen_at, "
                "attempts=excluded.attempts, next_attempt_at=excluded.next_attempt_at",
                (
                    feed_id,
                    outcome.key,
                    outcome.link,
                    outcome.article_id,
                    "ingested" if outcome.error is None else "failed",
                    attempts,
                    outcome.error,
                    _iso(now),
                    _iso(retry_at),
                ),
            )

    # -- poll results -------------------------------------------------------------------

    @sqlite_errors
    def record_success(
        self,
        feed_id: int,
        *,
        etag: str | None,
        last_modified: str | None,
        title: str | None,
        interval: timedelta,
        keep_validators: bool = False,
        outcomes: Iterable[EntryOutcome] = (),
        max_backoff: timedelta = timedelta(hours=12),
    ) -> None:
        """A poll went through: its entries marked, new validators, failures reset, next
        poll one interval on, all in one transaction.

        A failed entry is due again one `interval` later, then two, four... intervals
        later, never more than `max_backoff`.

        With `keep_validators` (a 304, or a poll that left entries for later) the stored
        ETag/Last-Modified stay: validators are only advanced once every entry they cover
        has been taken, so a poll cut short is picked up again.
        """
        now = self._clock()
        with self._store.write() as conn:
            self._write_entries(
                conn,
                feed_id,
                outcomes,
                now=now,
                retry_interval=interval,
                max_retry_wait=max_backoff,
            )
            if keep_validators:
                conn.execute(
                    "UPDATE feeds SET title=coalesce(?, title), last_polled_at=?, "
                    "last_success_at=?, last_error=NULL, failures=0, next_poll_at=? WHERE id=?",
                    (title, _iso(now), _iso(now), _iso(now + interval), feed_id),
                )
            else:
                conn.execute(
                    "UPDATE feeds SET etag=?, last_modified=?, title=coalesce(?, title), "
                    "last_polled_at=?, last_success_at=?, last_error=NULL, failures=0, "
                    "next_poll_at=? WHERE id=?",
                    (
                        etag,
                        last_modified,
                        title,
                        _iso(now),
                        _iso(now),
                        _iso(now + interval),
                        feed_id,
                    ),
                )

    @sqlite_errors
    def record_failure(
        self, feed_id: int, error: str, *, interval: timedelta, max_backoff: timedelta
    ) -> timedelta:
        """A poll failed: the feed backs off, doubling its wait per failure in a row.

        Returns the wait until its next try.
        """
        now = self._clock()
        with self._store.write() as conn:
            row = conn.execute("SELECT failures FROM feeds WHERE id=?", (feed_id,)).fetchone()
            failures = (int(row[0]) if row else 0) + 1
            wait = _doubling_wait(interval, failures, max_backoff)
            conn.execute(
                "UPDATE feeds SET last_polled_at=?, last_error=?, failures=?, next_poll_at=? "
                "WHERE id=?",
                (_iso(now), error, failures, _iso(now + wait), feed_id),
            )
        return wait
