"""The feed tests on both feed-state engines: the knowledge base's SQLite file (the
default) and the bot's PostgreSQL state database (a real server, `local_postgres`).

A test runs on both by asking for the `feed_state` fixture (conftest.py), parametrised
"sqlite" / "postgres", and opening its feed stores with `feeds_of(kb)` where it would
write `FeedStore(kb.store)`: on "postgres" every store it opens is on one PostgreSQL
database of its own (as every process of a shared deployment would be), each on its
own connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from index import KnowledgeBase
from index.web.feed_database import FeedDatabase
from index.web.feed_store import FeedStore

__all__ = ["FEED_STATE_BACKENDS", "FeedStates", "feeds_of"]

FEED_STATE_BACKENDS = ("sqlite", "postgres")


class FeedStates:
    """Where the running test's feed stores live (set by the `feed_state` fixture)."""

    # Opens one more connection to the test's PostgreSQL database; None: SQLite.
    connect: Callable[[], FeedDatabase] | None = None
    opened: list[FeedDatabase] = []  # noqa: RUF012 - closed by the fixture

    @classmethod
    def close_all(cls) -> None:
        for database in cls.opened:
            close = getattr(database, "close", None)
            if close is not None:
                close()
        cls.opened = []
        cls.connect = None


def feeds_of(kb: KnowledgeBase, *, clock: Callable[[], datetime] | None = None) -> FeedStore:
    """A feed store for `kb` on the running test's engine (a new connection each)."""
    options = {} if clock is None else {"clock": clock}
    if FeedStates.connect is None:
        return FeedStore(kb.store, **options)
    database = FeedStates.connect()
    FeedStates.opened.append(database)
    return FeedStore(database, **options)
