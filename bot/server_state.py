"""Each Discord server's own settings (`/settings`) and daily briefing (`/briefing`), kept
in the bot's state database (`bot.sqlite3`, or the PostgreSQL database that shard
processes share) by `ServerStore`, which `BotState` opens on its database
(`BotState.servers`).

Settings are overrides: a value a server never set is None and falls back to the config
file (`bot.discord.server_settings` resolves them). They are few and read on every
question, so the store keeps them in memory and writes through. With several shard
processes each keeps its own copy: Discord sends a server's events to one shard only, so
the process that changes a server's settings is the one that reads them; a change is made
on the row as stored (locked while it is rewritten), so an older copy never undoes
another process's change.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

from bot.state_db import StateDatabase

__all__ = ["Briefing", "ServerSettings", "ServerStore"]

_TABLES = """
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id {id} PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS briefings (
    guild_id {id} PRIMARY KEY,
    channel_id {id} NOT NULL,
    at TEXT NOT NULL,
    timezone TEXT NOT NULL,
    topic TEXT,
    last_day TEXT,
    quiet_noted INTEGER NOT NULL DEFAULT 0
);
"""
# Discord ids are 64-bit: PostgreSQL's INTEGER is not.
SCHEMA = {
    "sqlite": _TABLES.format(id="INTEGER"),
    "postgres": _TABLES.format(id="BIGINT"),
}

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
    """Server settings and briefings on the bot state's database."""

    def __init__(self, database: StateDatabase) -> None:
        self._db = database
        database.run_script(SCHEMA[database.dialect])
        rows = database.execute("SELECT guild_id, body FROM server_settings").rows
        self._settings = {int(g): ServerSettings.from_json(str(b)) for g, b in rows}
        # The cache has its own lock: the event loop reads it on every question and must
        # never wait behind a thread's database work.
        self._cache_lock = threading.Lock()

    # -- settings ------------------------------------------------------------------------

    def settings(self, guild_id: int) -> ServerSettings:
        """The server's overrides (all None when it set nothing); from memory."""
        with self._cache_lock:
            return self._settings.get(guild_id, ServerSettings())

    def save_settings(self, guild_id: int, settings: ServerSettings) -> None:
        self._write_settings(guild_id, settings)
        self._remember(guild_id, settings)

    def _write_settings(self, guild_id: int, settings: ServerSettings) -> None:
        self._db.execute(
            "INSERT INTO server_settings(guild_id, body, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(guild_id) DO UPDATE SET body=excluded.body,"
            " updated_at=excluded.updated_at",
            (guild_id, settings.to_json(), _now()),
        )

    def _remember(self, guild_id: int, settings: ServerSettings) -> None:
        with self._cache_lock:
            self._settings[guild_id] = settings

    def update_settings(self, guild_id: int, **changes: Any) -> ServerSettings:
        """Change some of the server's settings; the others stay. Returns the new ones.
        The stored row is read and rewritten in one transaction that locks it, so two
        changes made at once, by two threads or two processes, both stay."""
        with self._db.transaction():
            # The row exists before it is locked: a missing row cannot be locked.
            self._db.execute(
                "INSERT INTO server_settings(guild_id, body, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(guild_id) DO NOTHING",
                (guild_id, ServerSettings().to_json(), _now()),
            )
            row = self._db.execute(
                f"SELECT body FROM server_settings WHERE guild_id=?{self._db.row_lock}",
                (guild_id,),
            ).one()
            stored = ServerSettings.from_json(str(row[0])) if row else ServerSettings()
            settings = replace(stored, **changes)
            self._write_settings(guild_id, settings)
        # Only once committed: a failed commit leaves the copy as stored.
        self._remember(guild_id, settings)
        return settings

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
        row = self._db.execute(
            f"SELECT {self._COLUMNS} FROM briefings WHERE guild_id=?", (guild_id,)
        ).one()
        return self._briefing(row) if row else None

    def briefings(self) -> list[Briefing]:
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM briefings ORDER BY guild_id").rows
        return [self._briefing(r) for r in rows]

    def set_briefing(self, briefing: Briefing) -> None:
        """Create or replace the server's briefing (its `last_day` as given)."""
        self._db.execute(
            f"INSERT INTO briefings({self._COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(guild_id) DO UPDATE SET channel_id=excluded.channel_id,"
            " at=excluded.at, timezone=excluded.timezone, topic=excluded.topic,"
            " last_day=excluded.last_day, quiet_noted=excluded.quiet_noted",
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
        return self._db.execute("DELETE FROM briefings WHERE guild_id=?", (guild_id,)).rowcount > 0

    def claim_day(self, guild_id: int, day: date) -> bool:
        """Mark `day` as posted, before posting: True for the one caller that claimed it,
        False when that day (or a later one) was claimed already.

        One conditional UPDATE, so two ticks, or two processes, can never both post the
        same day: SQLite runs one writer at a time; PostgreSQL makes a second UPDATE of
        the row wait for the first to commit and then tests its WHERE again against the
        committed row (read committed), which no longer matches."""
        claimed = self._db.execute(
            "UPDATE briefings SET last_day=? WHERE guild_id=?"
            " AND (last_day IS NULL OR last_day < ?)",
            (day.isoformat(), guild_id, day.isoformat()),
        )
        return claimed.rowcount == 1

    def release_day(self, guild_id: int, day: date, previous: date | None) -> None:
        """Give back a claimed `day` that nothing was posted for (a send failed first)."""
        self._db.execute(
            "UPDATE briefings SET last_day=? WHERE guild_id=? AND last_day=?",
            (previous.isoformat() if previous else None, guild_id, day.isoformat()),
        )

    def note_quiet(self, guild_id: int, quiet: bool) -> None:
        """Remember whether the last briefing day had no news (said once per quiet spell)."""
        self._db.execute(
            "UPDATE briefings SET quiet_noted=? WHERE guild_id=?", (int(quiet), guild_id)
        )
