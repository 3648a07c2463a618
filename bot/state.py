"""The bot's own records, in `bot.sqlite3` beside the knowledge base: the answers it gave
(so buttons and follow-ups work after a restart), the feedback people left on them, and
which conversation (Discord thread or channel) each answer belongs to."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.answers.models import Answer, answer_from_dict, answer_to_dict
from bot.server_state import ServerStore
from index.errors import StoreError

__all__ = ["BotState", "FeedbackRow", "StoredAnswer"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    user_id INTEGER,
    guild_id INTEGER,
    channel_id INTEGER,
    conversation TEXT,
    message_id INTEGER,
    question TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_conversation ON answers(conversation, id);
CREATE INDEX IF NOT EXISTS answers_message ON answers(message_id);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    helpful INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
CREATE TABLE IF NOT EXISTS bot_values (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredAnswer:
    id: int
    answer: Answer
    user_id: int | None
    conversation: str | None
    message_id: int | None


@dataclass(frozen=True)
class FeedbackRow:
    answer_id: int
    user_id: int
    helpful: bool
    created_at: str
    question: str
    answer_text: str
    declined: bool
    sources: list[str]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class BotState:
    """A small SQLite file; one connection guarded by a lock (writes are tiny)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the bot's database {path}: {exc}") from None
        self._lock = threading.Lock()
        # Each server's settings and daily briefing, in the same file.
        self.servers = ServerStore(self._conn, self._lock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record_answer(
        self,
        answer: Answer,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        conversation: str | None = None,
    ) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO answers(created_at, user_id, guild_id, channel_id, conversation,"
                " question, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    user_id,
                    guild_id,
                    channel_id,
                    conversation,
                    answer.question,
                    json.dumps(answer_to_dict(answer), ensure_ascii=False),
                ),
            )
            return int(cursor.lastrowid or 0)

    def attach_message(self, answer_id: int, message_id: int, conversation: str | None) -> None:
        """Remember which Discord message shows an answer (a reply to it is a follow-up)."""
        with self._lock:
            self._conn.execute(
                "UPDATE answers SET message_id=?, conversation=coalesce(?, conversation)"
                " WHERE id=?",
                (message_id, conversation, answer_id),
            )

    def _stored(self, row: tuple[object, ...]) -> StoredAnswer:
        return StoredAnswer(
            id=int(str(row[0])),
            answer=answer_from_dict(json.loads(str(row[1]))),
            user_id=int(str(row[2])) if row[2] is not None else None,
            conversation=str(row[3]) if row[3] is not None else None,
            message_id=int(str(row[4])) if row[4] is not None else None,
        )

    def get_answer(self, answer_id: int) -> StoredAnswer | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, body, user_id, conversation, message_id FROM answers WHERE id=?",
                (answer_id,),
            ).fetchone()
        return self._stored(row) if row else None

    def answer_for_message(self, message_id: int) -> StoredAnswer | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, body, user_id, conversation, message_id FROM answers"
                " WHERE message_id=?",
                (message_id,),
            ).fetchone()
        return self._stored(row) if row else None

    def conversation(self, conversation: str, *, last: int = 4) -> list[StoredAnswer]:
        """The latest answers of a conversation, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body, user_id, conversation, message_id FROM answers"
                " WHERE conversation=? ORDER BY id DESC LIMIT ?",
                (conversation, last),
            ).fetchall()
        return [self._stored(r) for r in reversed(rows)]

    def has_conversation(self, conversation: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM answers WHERE conversation=? LIMIT 1", (conversation,)
            ).fetchone()
        return row is not None

    def get_value(self, key: str) -> str | None:
        """A small named value the bot keeps (e.g. the hash of the commands last synced)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM bot_values WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_value(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO bot_values(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def record_feedback(self, answer_id: int, user_id: int, helpful: bool) -> None:
        """One vote per person and answer; voting again replaces the vote."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO feedback(answer_id, user_id, helpful, created_at) VALUES (?,?,?,?)"
                " ON CONFLICT(answer_id, user_id) DO UPDATE SET helpful=excluded.helpful,"
                " created_at=excluded.created_at",
                (answer_id, user_id, int(helpful), _now()),
            )

    def feedback(self, *, guild_id: int | None = None) -> list[FeedbackRow]:
        """Every vote, oldest first; with `guild_id`, only those on that server's answers."""
        where, params = ("WHERE a.guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
        with self._lock:
            rows = self._conn.execute(
                "SELECT f.answer_id, f.user_id, f.helpful, f.created_at, a.body"
                f" FROM feedback f JOIN answers a ON a.id = f.answer_id {where}"
                " ORDER BY f.created_at",
                params,
            ).fetchall()
        result = []
        for answer_id, user_id, helpful, created_at, body in rows:
            answer = answer_from_dict(json.loads(body))
            result.append(
                FeedbackRow(
                    answer_id=int(answer_id),
                    user_id=int(user_id),
                    helpful=bool(helpful),
                    created_at=str(created_at),
                    question=answer.question,
                    answer_text=answer.text,
                    declined=answer.declined,
                    sources=[s.url or s.title for s in answer.sources],
                )
            )
        return result
