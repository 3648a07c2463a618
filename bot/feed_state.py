"""Where the bot's feed state lives (the feeds, their entries, their poll bookkeeping):
in the knowledge base's own SQLite file by default, as `index` keeps it; with
`[state] backend = "postgres"`, in the bot's PostgreSQL state database beside its other
records, so that every process on every machine (each shard, `geobot feeds run`, the
`geobot feeds` commands) sees one feed list."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.config import BotConfig
from bot.state_db import StateDatabase, open_state_database
from index.knowledge_base import DB_NAME, KnowledgeBase
from index.storage.sqlite_store import SQLiteStore
from index.web.feed_database import FeedDatabase, SQLiteFeedDatabase
from index.web.feed_store import FeedStore

__all__ = ["feed_store_on", "open_feed_database", "open_feed_store"]


def feed_store_on(kb: KnowledgeBase, state: StateDatabase) -> FeedStore:
    """The feed state of a process that holds the bot's state database already (the
    Discord bot): in that database when it is PostgreSQL, else in the library's file."""
    if state.dialect == "sqlite":
        return FeedStore(kb.store)
    return FeedStore(state)


@contextmanager
def open_feed_store(config: BotConfig, kb: KnowledgeBase) -> Iterator[FeedStore]:
    """The feed state `config` names, for a command: the library's SQLite file, or the
    PostgreSQL state database (connected here, closed at the end of the block)."""
    if config.state.backend == "sqlite":
        yield FeedStore(kb.store)
        return
    database = open_state_database(config.state, config.resolved_data_dir())
    try:
        yield FeedStore(database)
    finally:
        database.close()


@contextmanager
def open_feed_database(
    config: BotConfig, state: StateDatabase, *, create: bool
) -> Iterator[FeedDatabase | None]:
    """The database holding the feed state `config` names, opened without the library
    or its model: `state` itself with PostgreSQL; else the SQLite file the library keeps
    its feeds in (the library's own with the SQLite backend, `state.sqlite3` beside a
    Milvus library). Without `create`, None when that file does not exist."""
    if config.state.backend == "postgres":
        yield state
        return
    # Imported here: only a copy from or to a SQLite feed state needs the file's name.
    from index.storage.milvus_backend import STATE_DB_NAME

    folder = config.resolved_data_dir().expanduser()
    path = folder / (DB_NAME if config.storage.backend == "sqlite" else STATE_DB_NAME)
    if not create and not path.exists():
        yield None
        return
    store = SQLiteStore(path)
    try:
        yield SQLiteFeedDatabase(store)
    finally:
        store.close()
