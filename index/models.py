"""Domain objects of the knowledge base: plain, frozen, typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

__all__ = [
    "Article",
    "FailedInput",
    "IngestReport",
    "ParseResult",
    "ParsedArticle",
    "Passage",
    "SearchHit",
    "Span",
    "StoreStats",
]


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of an article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class ParsedArticle:
    """An article as a parser read it from a file, before it is stored."""

    title: str
    text: str
    source: str
    url: str | None = None
    outlet: str | None = None
    published: datetime | None = None
    country: str | None = None
    language: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Article:
    """A stored article. `id` is stable across re-ingests of the same URL or text."""

    id: int
    key: str
    title: str
    text: str
    url: str | None
    outlet: str | None
    published: datetime | None
    country: str | None
    language: str | None
    author: str | None
    source: str
    passage_count: int


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences of one article, the unit that is embedded and searched.

    `text` is exactly ``article.text[start:end]``; `sentences` are the spans (in article
    coordinates) of the sentences it holds, so an answer can quote one verbatim and say
    where it stands.
    """

    id: int
    article_id: int
    ordinal: int
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]


@dataclass(frozen=True)
class SearchHit:
    """One passage found by a search, with the article it belongs to and why it ranked."""

    passage: Passage
    article: Article
    score: float
    rank: int
    dense_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True)
class FailedInput:
    """An input that was reported and skipped."""

    source: str
    reason: str


@dataclass(frozen=True)
class ParseResult:
    """What one file yielded: its articles, and the records inside it that were skipped."""

    articles: tuple[ParsedArticle, ...]
    failures: tuple[FailedInput, ...] = ()


@dataclass(frozen=True)
class IngestReport:
    """What one `ingest` run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    passages_embedded: int = 0
    failed: tuple[FailedInput, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StoreStats:
    """What a knowledge base holds: counts, date span, outlets, model, index and disk use."""

    articles: int
    passages: int
    vectors: int
    earliest: datetime | None
    latest: datetime | None
    outlets: tuple[tuple[str, int], ...]
    model: str
    dimension: int
    index_factory: str
    data_dir: Path
    disk_bytes: int
