"""What autocomplete offers, kept in memory: article titles, outlets, feeds.

Discord gives an autocomplete 3 seconds and no way to defer, so its choices must never
wait for a thread: `ChoiceCache` answers from a snapshot held in memory. The snapshot is
loaded (off the event loop, by the loader the client gives) when the bot starts, again
after every change the bot makes (an ingest, a removal, a feed added or removed, a poll
that brought articles), and in the background when it is older than `max_age_seconds`
(changes made by another process, e.g. `geobot ingest`). A read never waits for a load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from index import KnowledgeBase
from index.web.feed_store import Feed, FeedStore

__all__ = ["ArticleTitle", "ChoiceCache", "ChoiceSnapshot", "load_choices"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArticleTitle:
    """An article as autocomplete shows it."""

    id: int
    title: str
    published: datetime | None


@dataclass(frozen=True)
class ChoiceSnapshot:
    """Articles (newest first), outlets with their article counts (most first), feeds."""

    articles: tuple[ArticleTitle, ...] = ()
    outlets: tuple[tuple[str, int], ...] = ()
    feeds: tuple[Feed, ...] = ()
    folded_titles: tuple[str, ...] = field(default=(), repr=False)


def load_choices(kb: KnowledgeBase, feeds: FeedStore) -> ChoiceSnapshot:
    """Read a fresh snapshot (blocking: run it in a thread)."""
    articles = tuple(ArticleTitle(*row) for row in kb.article_titles())
    return ChoiceSnapshot(
        articles=articles,
        outlets=tuple(kb.store.outlet_counts()),
        feeds=tuple(feeds.all()),
        folded_titles=tuple(a.title.casefold() for a in articles),
    )


class ChoiceCache:
    """The snapshot autocomplete reads, and its refreshing (one load at a time)."""

    def __init__(
        self,
        load: Callable[[], Awaitable[ChoiceSnapshot]],
        *,
        max_age_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._max_age = max_age_seconds
        self._clock = clock
        self._snapshot = ChoiceSnapshot()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    @property
    def snapshot(self) -> ChoiceSnapshot:
        """The current snapshot; starts a background refresh when it is stale."""
        if self._loaded_at is None or self._clock() - self._loaded_at > self._max_age:
            self.refresh_soon()
        return self._snapshot

    def refresh_soon(self) -> None:
        """Load a new snapshot in the background (unless a load is already under way)."""
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self.refresh_quietly())

    async def refresh(self) -> None:
        """Load a new snapshot now (after a change the bot made itself)."""
        async with self._lock:
            started = self._clock()
            self._snapshot = await self._load()
            self._loaded_at = started

    async def refresh_quietly(self) -> None:
        """`refresh`, with a failure logged rather than raised (the old snapshot stays)."""
        try:
            await self.refresh()
        except Exception:
            log.exception("could not refresh the autocomplete choices; keeping the old ones")

    async def close(self) -> None:
        task, self._background = self._background, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def articles(self, typed: str, *, limit: int = 25) -> list[ArticleTitle]:
        """Articles whose title contains `typed` (case-insensitive), newest first; an id
        typed as a number puts that article first."""
        snapshot = self.snapshot
        text = typed.strip()
        wanted = text.casefold()
        article_id = int(text) if text.isdigit() else None
        found: list[ArticleTitle] = []
        first: ArticleTitle | None = None
        for article, folded in zip(snapshot.articles, snapshot.folded_titles, strict=True):
            if article.id == article_id:
                first = article
            elif wanted in folded and len(found) < limit:
                found.append(article)
        return ([first, *found] if first is not None else found)[:limit]

    def outlets(self, typed: str) -> list[tuple[str, int]]:
        wanted = typed.strip().casefold()
        return [(o, n) for o, n in self.snapshot.outlets if wanted in o.casefold()]

    def feeds(self) -> list[Feed]:
        return list(self.snapshot.feeds)
