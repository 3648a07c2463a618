"""Bringing articles in from the web: article pages by URL, and polls of news feeds.

A poll fetches each feed with its conditional-GET validators, takes the entries it has not
taken before, fetches and extracts each entry's article page (the entry's own content
when the page cannot be had), and ingests them with the entry's date and the feed's
outlet and country. Every failure is per item: one bad feed, page or entry is reported
and the rest of the poll goes on. A failed entry is tried again in a later poll, after a
wait that doubles with each failure, until it has failed `max_attempts` times; entries
never tried go before retries, so failures cannot crowd new entries out of a poll.

Fetching runs concurrently on the event loop (the fetcher keeps it polite per host);
extraction and ingestion run in worker threads, one ingest at a time, so a bot polling
in the background keeps answering. A poll stopped at any point loses nothing: entries
are marked taken only after their articles are committed, and the feed's validators only
move on once every entry they cover is taken; an article fetched again after a stop is
recognised by its URL and not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TypeVar

from index.article_identity import article_key
from index.config import Config
from index.errors import BadInputError
from index.knowledge_base import KnowledgeBase
from index.models import FailedInput, IngestReport, ParsedArticle
from index.sources.html import extract_html
from index.web.feed_store import EntryOutcome, Feed, FeedStore
from index.web.feeds import FeedEntry, parse_feed
from index.web.fetch import FetchedResource, Fetcher

__all__ = [
    "FeedPoller",
    "FeedReport",
    "PollReport",
    "fetch_article",
    "fetch_articles",
    "ingest_urls",
    "is_url",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Entry content shorter than this is a teaser, not an article worth answering from.
MIN_FALLBACK_CHARS = 200


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


async def fetch_article(fetcher: Fetcher, url: str, *, max_article_chars: int) -> ParsedArticle:
    """Fetch one article page and extract it. Raises :class:`BadInputError` (a
    `FetchError` for network problems) naming the URL and the reason."""
    resource = await fetcher.fetch(url, kind="page")
    page: str | bytes = resource.body
    if resource.charset:
        # The HTTP header's charset wins over whatever the page declares (as browsers do).
        # An unknown charset name: the extractor reads the page's own declaration.
        with contextlib.suppress(LookupError):
            page = resource.body.decode(resource.charset, errors="replace")
    return await asyncio.to_thread(
        extract_html,
        page,
        source=url,
        url=resource.final_url,
        max_article_chars=max_article_chars,
    )


async def fetch_articles(
    fetcher: Fetcher, urls: Sequence[str], *, max_article_chars: int
) -> tuple[list[ParsedArticle], list[FailedInput]]:
    """Fetch and extract article pages concurrently; failures are returned, not raised."""
    results = await asyncio.gather(
        *(
            _captured(fetch_article(fetcher, url.strip(), max_article_chars=max_article_chars))
            for url in urls
        )
    )
    articles = [r for r in results if isinstance(r, ParsedArticle)]
    failures = [FailedInput(e.source, e.reason) for e in results if isinstance(e, BadInputError)]
    return articles, failures


async def ingest_urls(
    kb: KnowledgeBase,
    fetcher: Fetcher,
    urls: Sequence[str],
    *,
    offload: Callable[..., Awaitable[IngestReport]] = asyncio.to_thread,
) -> IngestReport:
    """Fetch article pages and store them; a page that fails is reported, the rest go in.

    `offload(function, *args)` runs the blocking ingest off the event loop (a caller with
    its own worker pool passes it)."""
    articles, failures = await fetch_articles(
        fetcher, urls, max_article_chars=kb.config.ingest.max_article_chars
    )
    report = IngestReport()
    if articles:
        report = await offload(kb.ingest_articles, articles)
    return replace(report, failed=(*failures, *report.failed))


def _age(entry: FeedEntry) -> float:
    """Sorts the newest first; an entry without a date counts as the oldest."""
    return -entry.published.timestamp() if entry.published else float("inf")


def _feed_headers(resource: FetchedResource) -> dict[str, str]:
    """The response headers feedparser reads: the charset that decides the encoding, and
    where the feed is after redirects (which its relative links resolve against)."""
    headers = {"content-location": resource.final_url}
    if resource.content_type:
        charset = f"; charset={resource.charset}" if resource.charset else ""
        headers["content-type"] = resource.content_type + charset
    return headers


async def _captured(work: Awaitable[T]) -> T | BadInputError:
    try:
        return await work
    except BadInputError as exc:
        return exc


@dataclass(frozen=True)
class FeedReport:
    """What one poll did with one feed."""

    url: str
    outlet: str | None
    new: int = 0  # entries taken and stored in this poll
    unchanged: int = 0  # entries taken in an earlier poll
    failed: tuple[FailedInput, ...] = ()  # per entry tried in this poll: its link (or title), why
    from_feed_content: tuple[FailedInput, ...] = ()  # pages that failed; the entry's text used
    left_for_later: int = 0  # entries due beyond max_entries_per_poll (retries included)
    retry_later: int = 0  # entries that failed before, waiting for their next try
    given_up: int = 0  # entries that failed max_attempts times: not tried again
    empty: int = 0  # items with no link, title or text: skipped
    not_modified: bool = False  # the server answered 304
    error: str | None = None  # the feed itself could not be fetched or read
    format: str | None = None
    retry_in: timedelta | None = None  # after an error: the back-off before the next try
    ingest: IngestReport = field(default_factory=IngestReport)


@dataclass(frozen=True)
class PollReport:
    feeds: tuple[FeedReport, ...]
    seconds: float

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def failed(self) -> int:
        return sum(len(f.failed) + (1 if f.error else 0) for f in self.feeds)


@dataclass(frozen=True)
class _Taken:
    entry: FeedEntry
    article: ParsedArticle | None
    error: str | None = None
    page_error: str | None = None  # the page failed but the entry's content was used


class FeedPoller:
    """Polls feeds into a knowledge base. Use from one event loop."""

    def __init__(
        self,
        kb: KnowledgeBase,
        feeds: FeedStore,
        fetcher: Fetcher,
        config: Config,
        *,
        on_feed_done: Callable[[FeedReport], None] | None = None,
    ) -> None:
        self._kb = kb
        self._feeds = feeds
        self._fetcher = fetcher
        self._config = config
        self._on_feed_done = on_feed_done
        self._ingest_lock = asyncio.Lock()

    async def poll(self, feeds: Sequence[Feed] | None = None) -> PollReport:
        """One pass over `feeds` (default: every feed), all feeds concurrently."""
        started = time.perf_counter()
        chosen = self._feeds.all() if feeds is None else list(feeds)
        reports = await asyncio.gather(*(self._poll_feed(feed) for feed in chosen))
        return PollReport(feeds=tuple(reports), seconds=time.perf_counter() - started)

    async def _poll_feed(self, feed: Feed) -> FeedReport:
        try:
            report = await self._poll_feed_unreported(feed)
        except Exception as exc:
            # A bug or a store error in one feed must not end the poll of the others;
            # the traceback goes to the log, the report names the feed and the error.
            log.exception("polling feed %s failed", feed.url)
            report = FeedReport(url=feed.url, outlet=feed.outlet, error=f"internal error: {exc}")
        if self._on_feed_done is not None:
            self._on_feed_done(report)
        return report

    async def _poll_feed_unreported(self, feed: Feed) -> FeedReport:
        settings = self._config.feeds
        interval = timedelta(minutes=settings.poll_interval_minutes)
        base = FeedReport(url=feed.url, outlet=feed.outlet)
        try:
            resource = await self._fetcher.fetch(
                feed.url, kind="feed", etag=feed.etag, last_modified=feed.last_modified
            )
            if resource.not_modified:
                await asyncio.to_thread(
                    self._feeds.record_success,
                    feed.id,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    title=None,
                    interval=interval,
                    keep_validators=True,
                )
                return replace(base, not_modified=True)
            parsed = await asyncio.to_thread(
                parse_feed, resource.body, url=feed.url, headers=_feed_headers(resource)
            )
        except BadInputError as exc:
            wait = await asyncio.to_thread(
                self._feeds.record_failure,
                feed.id,
                exc.reason,
                interval=interval,
                max_backoff=timedelta(minutes=settings.max_backoff_minutes),
            )
            log.warning("feed %s failed: %s (next try in %s)", feed.url, exc.reason, wait)
            return replace(base, error=exc.reason, retry_in=wait)

        entries = list({entry.key: entry for entry in parsed.entries}.values())
        states = await asyncio.to_thread(
            self._feeds.entry_states,
            feed.id,
            [e.key for e in entries],
            max_attempts=settings.max_attempts,
        )
        by_key = {e.key: e for e in entries}
        # Entries never tried first, the newest of them first; then the failed ones whose
        # wait is over, the longest-waiting first. What does not fit waits for next time.
        fresh = sorted((e for e in entries if e.key in states.new), key=_age)
        due = [*fresh, *(by_key[key] for key in states.retry_due)]
        todo = due[: settings.max_entries_per_poll]
        left = len(due) - len(todo)
        # Oldest first, so that a poll cut short has taken a clean prefix of the feed.
        todo.sort(key=_age, reverse=True)

        taken = await asyncio.gather(*(self._take(feed, entry) for entry in todo))
        articles = [t.article for t in taken if t.article is not None]
        ingest = IngestReport()
        if articles:
            ingest = await self._ingest(articles)
        ingest_errors = {f.source: f.reason for f in ingest.failed}

        outcomes: list[EntryOutcome] = []
        failed: list[FailedInput] = []
        fallbacks: list[FailedInput] = []
        for item in taken:
            label = item.entry.link or item.entry.title or item.entry.key
            error = item.error
            article_id = None
            if item.article is not None:
                error = ingest_errors.get(item.article.source)
                if error is None:
                    article_id = self._kb.store.article_id(article_key(item.article))
            if error is not None:
                failed.append(FailedInput(label, error))
            elif item.page_error is not None:
                fallbacks.append(FailedInput(label, item.page_error))
            outcomes.append(EntryOutcome(item.entry.key, item.entry.link, article_id, error))
        # SQLite writes wait for a running ingest's commit: off the event loop. The
        # entries' marks and the feed's new state commit together.
        await asyncio.to_thread(
            self._feeds.record_success,
            feed.id,
            outcomes=outcomes,
            etag=resource.etag,
            last_modified=resource.last_modified,
            title=parsed.title,
            interval=interval,
            max_backoff=timedelta(minutes=settings.max_backoff_minutes),
            # Entries that failed (and may be retried), wait for their retry or were left
            # for later must be seen again next time: a 304 would hide them.
            keep_validators=bool(left or failed or states.retry_waiting),
        )
        return replace(
            base,
            new=len(outcomes) - len(failed),
            unchanged=len(states.taken),
            failed=tuple(failed),
            from_feed_content=tuple(fallbacks),
            left_for_later=left,
            retry_later=len(states.retry_waiting),
            given_up=len(states.given_up),
            empty=parsed.empty_entries,
            format=parsed.format,
            ingest=ingest,
        )

    async def _take(self, feed: Feed, entry: FeedEntry) -> _Taken:
        """The article of one entry: its page, else its own content, else an error."""
        if not entry.link:
            return _Taken(entry, None, "the entry has no link to an article")
        try:
            page = await fetch_article(
                self._fetcher,
                entry.link,
                max_article_chars=self._config.ingest.max_article_chars,
            )
        except BadInputError as exc:
            return self._from_entry(feed, entry, entry.link, page_error=exc.reason)
        published = entry.published or page.published
        if published is None:
            return _Taken(
                entry, None, "no publication date: the entry has none and neither has its page"
            )
        article = replace(
            page,
            title=page.title or entry.title,
            url=page.url or entry.link,
            published=published,
            outlet=feed.outlet or page.outlet,
            country=feed.country or page.country,
            author=page.author or entry.author,
            source=entry.link,
        )
        return _Taken(entry, article)

    @staticmethod
    def _from_entry(feed: Feed, entry: FeedEntry, link: str, *, page_error: str) -> _Taken:
        """The entry's own content as its article, the page at `link` having failed; if
        the entry lacks what an article needs, the page's failure comes first in the
        reason (it is what went wrong; the entry's gaps only say why nothing replaced it)."""
        published = entry.published
        missing = [
            what
            for what, absent in (
                ("publication date", published is None),
                ("title", not entry.title),
                ("article text", len(entry.content) < MIN_FALLBACK_CHARS),
            )
            if absent
        ]
        if published is None or missing:
            reason = f"the page failed ({page_error})"
            reason += f" and the entry has no {' or '.join(missing)} of its own"
            return _Taken(entry, None, reason)
        article = ParsedArticle(
            title=entry.title,
            text=entry.content,
            source=link,
            url=link,
            outlet=feed.outlet,
            published=published,
            country=feed.country,
            author=entry.author,
        )
        return _Taken(entry, article, page_error=page_error)

    async def _ingest(self, articles: list[ParsedArticle]) -> IngestReport:
        async with self._ingest_lock:
            work = asyncio.ensure_future(asyncio.to_thread(self._kb.ingest_articles, articles))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # A thread cannot be stopped: let the ingest finish (it commits or rolls
                # back as a whole) before the cancellation goes on, so that whoever closes
                # the knowledge base next does not close it under a running write.
                await asyncio.wait([work])
                raise
