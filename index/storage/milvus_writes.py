"""Writing articles to Milvus so that an interrupted write is never seen.

Milvus writes rows, not transactions, so articles are written in an order that makes each
article's *head row* its commit point. A write session hands over a batch of articles
(:meth:`ArticleWriter.write_articles`), and each step is one request per collection for
the whole batch (split only where a request would grow too large):

1. journal rows (in the meta collection) name the articles being written;
2. the rows of the new versions are upserted: the passages, then the continuation rows of
   the texts (ids derived from key, version and ordinal, so writing the same article again
   upserts the same rows);
3. the head rows are upserted, now naming the new versions: from here each article whose
   head was written is stored;
4. the rows of the versions they replaced are deleted, then the journal rows.

Readers show a passage only when its article's head names its version, and the knowledge
base shows a hit only when the head's metadata passes the search's filter, so the rows of
an interrupted write are never shown. Interrupted before (3), every article of the batch
stays as it was; during (3), those whose head was written are stored and the rest stay as
they were (each article's own rows were all written in (2)); after (3), the batch is
stored. What an interrupted write leaves is deleted by the next write of that article, or
by :meth:`ArticleWriter.sweep` of the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from index.errors import StoreError
from index.storage.milvus_client import QUERY_LIMIT, MilvusCollections, microseconds_now
from index.storage.milvus_schema import (
    article_id_candidates,
    article_rows,
    passage_filter_fields,
    passage_rows,
)
from index.storage.rows import ArticleRecord, NewPassage

__all__ = ["ArticleWrite", "ArticleWriter"]

log = logging.getLogger(__name__)

_SLOT_FIELDS = ["id", "key", "version", "content_hash", "metadata_hash", "passage_count"]
# Rows per upsert: at most a thousand, and at most ~16 million characters and vector
# floats (a server refuses requests over 64 MB; a character is at most 4 bytes). A thousand
# ordinary passages with their 384-float vectors are a few megabytes; a thousand 16,000-
# character text pieces would not fit.
ROWS_PER_REQUEST = 1_000
SIZE_PER_REQUEST = 16_000_000
# Articles per delete: each adds a clause to the delete's filter expression.
ARTICLES_PER_DELETE = 200

T = TypeVar("T")


@dataclass(frozen=True)
class ArticleWrite:
    """One article of a batch: its record and new passages (None: only the metadata
    changed, the stored passages stay)."""

    record: ArticleRecord
    passages: Sequence[NewPassage] | None


@dataclass(frozen=True)
class _Planned:
    """An article of a batch with the id it is written under and the head it replaces."""

    write: ArticleWrite
    article_id: int
    head: dict[str, Any] | None

    @property
    def journal(self) -> str:
        return f"write:{self.article_id}:{self.write.record.content_hash}"

    @property
    def replaced_version(self) -> str | None:
        old = self.head["version"] if self.head is not None else None
        return old if old is not None and old != self.write.record.content_hash else None


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _row_size(row: dict[str, Any]) -> int:
    """Characters of a row's strings plus the numbers of its vectors (each at most 4 bytes
    in a request)."""
    return sum(len(v) if isinstance(v, str | list) else 1 for v in row.values())


def _requests(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """`rows` in upserts of at most ROWS_PER_REQUEST rows and SIZE_PER_REQUEST size."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        row_size = _row_size(row)
        if chunk and (len(chunk) >= ROWS_PER_REQUEST or size + row_size > SIZE_PER_REQUEST):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk


class ArticleWriter:
    """Writes and deletes articles in the order that keeps readers right."""

    def __init__(self, collections: MilvusCollections) -> None:
        self.collections = collections
        self.articles = collections.articles
        self.passages = collections.passages
        self.meta = collections.meta
        self.request = collections.request
        self.query_all = collections.query_all

    def head(self, article_id: int) -> dict[str, Any] | None:
        rows = self.request("query", self.articles, ids=[article_id], output_fields=_SLOT_FIELDS)
        return rows[0] if rows else None

    def slot(self, key: str) -> tuple[int, dict[str, Any] | None]:
        """The id of the article with `key` and its head row, or the id a new article with
        that key takes and None."""
        return self.slots([key])[key]

    def slots(self, keys: Sequence[str]) -> dict[str, tuple[int, dict[str, Any] | None]]:
        """`slot` of several keys, read in one request per few thousand keys. New keys
        of the same call never share an id."""
        candidates = {key: article_id_candidates(key) for key in dict.fromkeys(keys)}
        wanted = sorted({c for ids in candidates.values() for c in ids})
        taken: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(wanted, QUERY_LIMIT):
            rows = self.request("query", self.articles, ids=list(chunk), output_fields=_SLOT_FIELDS)
            taken.update((int(r["id"]), r) for r in rows)
        found: dict[str, tuple[int, dict[str, Any] | None]] = {}
        fresh: list[str] = []
        for key, ids in candidates.items():
            held = next((c for c in ids if c in taken and taken[c]["key"] == key), None)
            if held is not None:
                found[key] = (held, taken[held])
            else:
                fresh.append(key)
        claimed = {article_id for article_id, _ in found.values()}
        for key in fresh:
            free = next((c for c in candidates[key] if c not in taken and c not in claimed), None)
            if free is None:
                raise StoreError(f"no free article id for {key!r}")  # 8 collisions: never seen
            claimed.add(free)
            found[key] = (free, None)
        return found

    def write_articles(self, writes: Sequence[ArticleWrite]) -> list[int]:
        """Store a batch of articles (distinct keys) in the order described in the module's
        documentation; returns their ids, in order."""
        keys = [w.record.key for w in writes]
        if len(set(keys)) != len(keys):
            raise ValueError("a batch holds one write per article key")
        if not writes:
            return []
        slots = self.slots(keys)
        planned = [_Planned(w, *slots[w.record.key]) for w in writes]
        self.collections.set_meta({p.journal: str(p.article_id) for p in planned})
        now = microseconds_now()
        new_passages: list[dict[str, Any]] = []
        for p in planned:
            if p.write.passages:
                new_passages.extend(
                    passage_rows(p.write.record, p.article_id, p.write.passages, now)
                )
        for chunk in _requests(new_passages):
            self.request("upsert", self.passages, chunk)
        # Only the metadata changed: the passages' copies of the filter fields follow.
        self._update_passage_filters([p for p in planned if p.write.passages is None])
        continuations: list[dict[str, Any]] = []
        heads: list[dict[str, Any]] = []
        for p in planned:
            if p.write.passages is not None:
                passage_count = len(p.write.passages)
            else:
                passage_count = int(p.head["passage_count"]) if p.head is not None else 0
            rows = article_rows(p.write.record, p.article_id, passage_count, now)
            continuations.extend(rows[:-1])
            heads.append(rows[-1])
        for chunk in _requests(continuations):
            self.request("upsert", self.articles, chunk)
        # The commit point: the heads name the new versions.
        for chunk in _requests(heads):
            self.request("upsert", self.articles, chunk)
        replaced = [(p.article_id, v) for p in planned if (v := p.replaced_version) is not None]
        self.delete_versions(replaced)
        self.request("delete", self.meta, ids=[p.journal for p in planned])
        return [p.article_id for p in planned]

    def _update_passage_filters(self, planned: Sequence[_Planned]) -> None:
        if not planned:
            return
        versions = {p.article_id: p.write.record.content_hash for p in planned}
        fields = {p.article_id: passage_filter_fields(p.write.record) for p in planned}
        updates: list[dict[str, Any]] = []
        for chunk in _chunks(sorted(versions), ARTICLES_PER_DELETE):
            rows = self.query_all(
                self.passages,
                "article_id in {ids}",
                {"ids": list(chunk)},
                ["id", "article_id", "version"],
            )
            updates.extend(
                {"id": int(r["id"]), **fields[int(r["article_id"])]}
                for r in rows
                if r["version"] == versions[int(r["article_id"])]
            )
        for part in _requests(updates):
            self.request("upsert", self.passages, part, partial_update=True)

    def delete_version(self, article_id: int, version: str | None) -> None:
        """Delete an article's passages and text rows of `version` (all when None)."""
        expression = "article_id == {a}"
        params: dict[str, Any] = {"a": article_id}
        if version is not None:
            expression += " and version == {v}"
            params["v"] = version
        self.collections.delete_where(self.passages, expression, params)
        if version is not None:
            expression += " and part > 0"
        self.collections.delete_where(self.articles, expression, params)

    def delete_versions(self, versions: Sequence[tuple[int, str]]) -> None:
        """Delete the passages and continuation rows of these (article id, version)
        pairs: one request per collection for up to ARTICLES_PER_DELETE articles."""
        for chunk in _chunks(versions, ARTICLES_PER_DELETE):
            # One clause per article: a version (a content digest) may be another
            # article's current one.
            clauses = [
                f"(article_id == {{a{n}}} and version == {{v{n}}})" for n in range(len(chunk))
            ]
            params: dict[str, Any] = {}
            for n, (article_id, version) in enumerate(chunk):
                params[f"a{n}"] = article_id
                params[f"v{n}"] = version
            expression = " or ".join(clauses)
            self.collections.delete_where(self.passages, expression, params)
            self.collections.delete_where(self.articles, f"part > 0 and ({expression})", params)

    def delete_article(self, article_id: int) -> None:
        journal = f"delete:{article_id}"
        self.collections.set_meta({journal: str(article_id)})
        # The head first: from then on nothing of the article is shown.
        self.request("delete", self.articles, ids=[article_id])
        self.delete_version(article_id, None)
        self.request("delete", self.meta, ids=[journal])

    def sweep(self, *, older_than_s: float) -> int:
        """Delete the rows left by interrupted writes journaled more than `older_than_s`
        ago: every row of such an article not of the version its head names."""
        cutoff = microseconds_now() - int(older_than_s * 1_000_000)
        if not self.request("has_collection", self.passages):
            return 0  # a new library: nothing was ever written
        entries = self.query_all(
            self.meta,
            'key like "write:%" or key like "delete:%"',
            {},
            ["key", "value", "written_at"],
        )
        swept = 0
        for entry in entries:
            if int(entry["written_at"]) > cutoff:
                continue
            article_id = int(entry["value"])
            head = self.head(article_id)
            if head is None:
                self.delete_version(article_id, None)
            else:
                params = {"a": article_id, "v": head["version"]}
                stale = "article_id == {a} and version != {v}"
                self.collections.delete_where(self.passages, stale, params)
                self.collections.delete_where(self.articles, stale, params)
            self.request("delete", self.meta, ids=[entry["key"]])
            swept += 1
        if swept:
            log.info("cleaned up after %d interrupted write(s)", swept)
        return swept
