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
from index.knowledge_base import KnowledgeBase
from index.web.feed_store import FeedStore

__all__ = ["feed_store_on", "open_feed_store"]


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
