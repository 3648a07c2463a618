"""Each Discord server's own settings (`/settings`) and daily briefing (`/briefing`), kept
in the bot's state file (`bot.sqlite3`) by `ServerStore`, which `BotState` opens on its
connection (`BotState.servers`).

Settings are overrides: a value a server never set is None and falls back to the config
file (`bot.discord.server_settings` resolves them). They are few and read on every
question, so the store keeps them in memory and writes through.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from index.errors import StoreError

__all__ = ["Briefing", "ServerSettings", "ServerStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS briefings (
    guild_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    timezone TEXT NOT NULL,
    topic TEXT,
    last_day TEXT,
    quiet_noted INTEGER NOT NULL DEFAULT 0
);
"""

FollowUps = Literal["thread", "inline"]


@dataclass(frozen=True)
class ServerSettings:
    """A server's overrides of the `[discord]` and `[llm]` defaults (None: the default)."""

    answer_channel_ids: tuple[int, ...] | None = None
    cooldown_seconds: float | None = None
    follow_ups: FollowUps | None = None
    written_answers: bool | None = None
    prefer_outlets: tuple[str, ...] = ()
    exclude_outlets: tuple[str, ...] = ()
    prefer_countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        data: dict[str, Any] = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key, value in known.items():
            if isinstance(value, list):
                known[key] = tuple(value)
        return cls(**known)


@dataclass(frozen=True)
class Briefing:
    """A server's daily briefing: posted in `channel_id` every day at `at` ("HH:MM") in
    `timezone` (an IANA name). `last_day` is the last local day claimed for a post;
    `quiet_noted` says the bot already said that no news came in (it says so once)."""

    guild_id: int
    channel_id: int
    at: str
    timezone: str
    topic: str | None = None
    last_day: date | None = None
    quiet_noted: bool = False


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class ServerStore:
    """Server settings and briefings on the bot state's connection (and its lock)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock
        try:
            with lock:
                conn.executescript(SCHEMA)
                rows = conn.execute("SELECT guild_id, body FROM server_settings").fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read the servers' settings: {exc}") from None
        self._settings = {int(g): ServerSettings.from_json(str(b)) for g, b in rows}
        # The cache has its own lock: the event loop reads it on every question and must
        # never wait behind a thread's SQLite work under the connection's lock.
        self._cache_lock = threading.Lock()

    # -- settings ------------------------------------------------------------------------

    def settings(self, guild_id: int) -> ServerSettings:
        """The server's overrides (all None when it set nothing); from memory."""
        with self._cache_lock:
            return self._settings.get(guild_id, ServerSettings())

    def save_settings(self, guild_id: int, settings: ServerSettings) -> None:
        with self._lock:
            self._write_settings(guild_id, settings)

    def update_settings(self, guild_id: int, **changes: Any) -> ServerSettings:
        """Change some of the server's settings; the others stay. Returns the new ones.
        Read and written under one lock, so two changes made at once both stay."""
        with self._lock:
            settings = replace(self.settings(guild_id), **changes)
            self._write_settings(guild_id, settings)
        return settings

    def _write_settings(self, guild_id: int, settings: ServerSettings) -> None:
        # Called with the connection's lock held.
        self._conn.execute(
            "INSERT INTO server_settings(guild_id, body, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(guild_id) DO UPDATE SET body=excluded.body,"
            " updated_at=excluded.updated_at",
            (guild_id, settings.to_json(), _now()),
        )
        with self._cache_lock:
            self._settings[guild_id] = settings

    # -- briefings -----------------------------------------------------------------------

    def _briefing(self, row: tuple[Any, ...]) -> Briefing:
        return Briefing(
            guild_id=int(row[0]),
            channel_id=int(row[1]),
            at=str(row[2]),
            timezone=str(row[3]),
            topic=row[4],
            last_day=date.fromisoformat(row[5]) if row[5] else None,
            quiet_noted=bool(row[6]),
        )

    _COLUMNS = "guild_id, channel_id, at, timezone, topic, last_day, quiet_noted"

    def briefing(self, guild_id: int) -> Briefing | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM briefings WHERE guild_id=?", (guild_id,)
            ).fetchone()
        return self._briefing(row) if row else None

    def briefings(self) -> list[Briefing]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM briefings ORDER BY guild_id"
            ).fetchall()
        return [self._briefing(r) for r in rows]

    def set_briefing(self, briefing: Briefing) -> None:
        """Create or replace the server's briefing (its `last_day` as given)."""
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO briefings({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    briefing.guild_id,
                    briefing.channel_id,
                    briefing.at,
                    briefing.timezone,
                    briefing.topic,
                    briefing.last_day.isoformat() if briefing.last_day else None,
                    int(briefing.quiet_noted),
                ),
            )

    def remove_briefing(self, guild_id: int) -> bool:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM briefings WHERE guild_id=?", (guild_id,))
            return cursor.rowcount > 0

    def claim_day(self, guild_id: int, day: date) -> bool:
        """Mark `day` as posted, before posting: True for the one caller that claimed it,
        False when that day (or a later one) was claimed already. One SQL statement, so
        two ticks, or two processes, can never both post the same day."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE briefings SET last_day=? WHERE guild_id=?"
                " AND (last_day IS NULL OR last_day < ?)",
                (day.isoformat(), guild_id, day.isoformat()),
            )
            return cursor.rowcount == 1

    def release_day(self, guild_id: int, day: date, previous: date | None) -> None:
        """Give back a claimed `day` that nothing was posted for (a send failed first)."""
        with self._lock:
            self._conn.execute(
                "UPDATE briefings SET last_day=? WHERE guild_id=? AND last_day=?",
                (previous.isoformat() if previous else None, guild_id, day.isoformat()),
            )

    def note_quiet(self, guild_id: int, quiet: bool) -> None:
        """Remember whether the last briefing day had no news (said once per quiet spell)."""
        with self._lock:
            self._conn.execute(
                "UPDATE briefings SET quiet_noted=? WHERE guild_id=?", (int(quiet), guild_id)
            )
