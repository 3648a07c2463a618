"""The rows the SQLite store reads and writes, and the filter its searches take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from index.models import Article, Span

__all__ = [
    "ARTICLE_COLUMNS",
    "ArticleFilter",
    "ArticleRecord",
    "ArticleRow",
    "NewPassage",
    "WriteStamp",
    "article_from_row",
    "parse_stored_time",
]

# The columns `article_from_row` reads, in order, from `articles a`.
ARTICLE_COLUMNS = (
    "a.id, a.key, a.title, a.text, a.url, a.outlet, a.published, a.country, a.language,"
    " a.author, a.source, (SELECT count(*) FROM passages p WHERE p.article_id = a.id)"
)


@dataclass(frozen=True)
class ArticleFilter:
    """Restricts a search to articles published in [since, until], from one outlet and/or
    from outlets of one country (ISO code)."""

    since: datetime | None = None
    until: datetime | None = None
    outlet: str | None = None
    country: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.outlet, self.country))

    def sql(self, alias: str = "a") -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None:
            clauses.append(f"{alias}.published >= ?")
            params.append(self.since.isoformat(sep=" "))
        if self.until is not None:
            clauses.append(f"{alias}.published <= ?")
            params.append(self.until.isoformat(sep=" "))
        if self.outlet is not None:
            clauses.append(f"{alias}.outlet = ? COLLATE NOCASE")
            params.append(self.outlet)
        if self.country is not None:
            clauses.append(f"{alias}.country = ? COLLATE NOCASE")
            params.append(self.country)
        return (" AND ".join(clauses) or "1"), params

    def admits(self, article: Article) -> bool:
        """Whether `article` passes the filter, compared as :meth:`sql` compares."""
        published = article.published.isoformat(sep=" ") if article.published else None
        if self.since is not None and (
            published is None or published < self.since.isoformat(sep=" ")
        ):
            return False
        if self.until is not None and (
            published is None or published > self.until.isoformat(sep=" ")
        ):
            return False
        if self.outlet is not None and (article.outlet or "").lower() != self.outlet.lower():
            return False
        return self.country is None or (article.country or "").lower() == self.country.lower()


@dataclass(frozen=True)
class NewPassage:
    """A passage about to be written, with its vector."""

    ordinal: int
    start: int
    end: int
    sentences: tuple[Span, ...]
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class ArticleRecord:
    """An article about to be written: its fields, its key and the digests that tell a
    changed article from an unchanged one. `existing_id`: the stored article it replaces."""

    existing_id: int | None
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
    content_hash: str
    metadata_hash: str


@dataclass(frozen=True)
class ArticleRow:
    """What the ingest path needs to know about an article already stored."""

    id: int
    content_hash: str
    metadata_hash: str


@dataclass(frozen=True)
class WriteStamp:
    """The generation a write transaction stamps on the store, and the one it replaces:
    the vector index of the process writing must reflect `previous` before it changes."""

    generation: str
    previous: str


def parse_stored_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def article_from_row(row: Sequence[object]) -> Article:
    """An article from a row of :data:`ARTICLE_COLUMNS`."""
    return Article(
        id=int(str(row[0])),
        key=str(row[1]),
        title=str(row[2]),
        text=str(row[3]),
        url=row[4] if isinstance(row[4], str) else None,
        outlet=row[5] if isinstance(row[5], str) else None,
        published=parse_stored_time(row[6]),
        country=row[7] if isinstance(row[7], str) else None,
        language=row[8] if isinstance(row[8], str) else None,
        author=row[9] if isinstance(row[9], str) else None,
        source=str(row[10]),
        passage_count=int(str(row[11])),
    )
