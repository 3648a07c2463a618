"""Feed state in the knowledge base's own SQLite file: the feeds, their conditional-GET
validators, the entries already taken, errors and when each feed is next due.

Kept in the same database as the articles so that one file is the whole state: a backup
or a move takes everything, and an entry is never taken twice after a restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from index.errors import BadInputError, NotFoundError
from index.sources.outlets import country_code
from index.storage.sqlite_store import SQLiteStore

__all__ = ["EntryOutcome", "Feed", "FeedStore", "check_feed_url"]

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
    PRIMARY KEY (feed_id, entry_key)
);
"""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(sep=" ") if value else None


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def check_feed_url(url: str) -> str:
    """`url` stripped, or a :class:`BadInputError` when it is not an http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadInputError(url or "(empty)", "a feed must be an http:// or https:// URL")
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
    """The feeds tables of one knowledge base's SQLite file."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        store.ensure_schema(FEED_SCHEMA)

    # -- the feeds ----------------------------------------------------------------------

    def add(
        self, url: str, *, outlet: str | None = None, country: str | None = None
    ) -> tuple[Feed, bool]:
        """Add a feed (due at once); an existing one gets the outlet/country given.

        Returns the feed and whether it is new.
        """
        url = check_feed_url(url)
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
                    (url, outlet, country, _iso(_now()), _iso(_now())),
                )
            else:
                conn.execute(
                    "UPDATE feeds SET outlet=coalesce(?, outlet), country=coalesce(?, country) "
                    "WHERE id=?",
                    (outlet, country, row[0]),
                )
        return self.get(url), row is None

    def remove(self, url: str) -> Feed:
        """Forget a feed and its entries (the articles it brought stay)."""
        feed = self.get(url)
        with self._store.write() as conn:
            conn.execute("DELETE FROM feeds WHERE id=?", (feed.id,))
        return feed

    def get(self, url: str) -> Feed:
        row = (
            self._store.read()
            .execute(f"SELECT {_FEED_COLUMNS} FROM feeds f WHERE f.url=?", (url.strip(),))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no feed {url.strip()!r} (see `geobot feeds list`)")
        return _feed(tuple(row))

    def all(self) -> list[Feed]:
        rows = self._store.read().execute(f"SELECT {_FEED_COLUMNS} FROM feeds f ORDER BY f.id")
        return [_feed(tuple(row)) for row in rows]

    def due(self, now: datetime | None = None) -> list[Feed]:
        """The feeds whose next poll time has come."""
        moment = _iso(now or _now())
        rows = self._store.read().execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds f "
            "WHERE f.next_poll_at IS NULL OR f.next_poll_at <= ? ORDER BY f.next_poll_at",
            (moment,),
        )
        return [_feed(tuple(row)) for row in rows]

    def next_due_at(self) -> datetime | None:
        row = self._store.read().execute("SELECT min(next_poll_at) FROM feeds").fetchone()
        return _dt(row[0]) if row else None

    # -- entries ------------------------------------------------------------------------

    def pending_keys(self, feed_id: int, keys: Iterable[str], *, max_attempts: int) -> set[str]:
        """Those of `keys` still to take: never seen, or failed fewer than `max_attempts`."""
        wanted = list(dict.fromkeys(keys))
        done: set[str] = set()
        conn = self._store.read()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT entry_key FROM feed_entries WHERE feed_id=? AND entry_key IN ({marks}) "
                "AND (status='ingested' OR attempts >= ?)",
                (feed_id, *chunk, max_attempts),
            )
            done.update(str(row[0]) for row in rows)
        return {key for key in wanted if key not in done}

    @staticmethod
    def _write_entries(
        conn: sqlite3.Connection, feed_id: int, outcomes: Iterable[EntryOutcome]
    ) -> None:
        now = _iso(_now())
        for outcome in outcomes:
            conn.execute(
                "INSERT INTO feed_entries"
                "(feed_id, entry_key, link, article_id, status, attempts, error, seen_at) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT(feed_id, entry_key) DO UPDATE SET "
                "link=excluded.link, article_id=excluded.article_id, "
                "status=excluded.status, error=excluded.error, seen_at=excluded.seen_at, "
                "attempts=feed_entries.attempts + 1",
                (
                    feed_id,
                    outcome.key,
                    outcome.link,
                    outcome.article_id,
                    "ingested" if outcome.error is None else "failed",
                    outcome.error,
                    now,
                ),
            )

    # -- poll results -------------------------------------------------------------------

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
    ) -> None:
        """A poll went through: its entries marked, new validators, failures reset, next
        poll one interval on, all in one transaction.

        With `keep_validators` (a 304, or a poll that left entries for later) the stored
        ETag/Last-Modified stay: validators are only advanced once every entry they cover
        has been taken, so a poll cut short is picked up again.
        """
        now = _now()
        with self._store.write() as conn:
            self._write_entries(conn, feed_id, outcomes)
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

    def record_failure(
        self, feed_id: int, error: str, *, interval: timedelta, max_backoff: timedelta
    ) -> timedelta:
        """A poll failed: the feed backs off, doubling its wait per failure in a row.

        Returns the wait until its next try.
        """
        now = _now()
        with self._store.write() as conn:
            row = conn.execute("SELECT failures FROM feeds WHERE id=?", (feed_id,)).fetchone()
            failures = (int(row[0]) if row else 0) + 1
            wait = min(interval * (1 << min(failures, 30)), max_backoff)
            conn.execute(
                "UPDATE feeds SET last_polled_at=?, last_error=?, failures=?, next_poll_at=? "
                "WHERE id=?",
                (_iso(now), error, failures, _iso(now + wait), feed_id),
            )
        return wait
