"""Writing articles to Milvus so that an interrupted write is never seen.

Milvus writes rows, not transactions, so an article is written in an order that makes its
*head row* the commit point:

1. a journal row (in the meta collection) names the article being written;
2. the rows of the new version are upserted: the continuation rows of its text and its
   passages (ids derived from key, version and ordinal, so writing the same article again
   upserts the same rows);
3. the head row is upserted, now naming the new version: from here the article is stored;
4. the rows of the version it replaced are deleted, then the journal row.

Readers show a passage only when its article's head names its version, and the knowledge
base shows a hit only when the head's metadata passes the search's filter, so the rows of
an interrupted write are never shown. Interrupted before (3), the old article stays as it
was; after (3), the new one is stored. What an interrupted write leaves is deleted by the
next write of that article, or by :meth:`ArticleWriter.sweep` of the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from index.errors import StoreError
from index.storage.milvus_client import MilvusCollections, microseconds_now
from index.storage.milvus_schema import (
    article_id_candidates,
    article_rows,
    passage_filter_fields,
    passage_rows,
)
from index.storage.rows import ArticleRecord, NewPassage

__all__ = ["ArticleWriter"]

log = logging.getLogger(__name__)

_SLOT_FIELDS = ["id", "key", "version", "content_hash", "metadata_hash", "passage_count"]


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
        candidates = article_id_candidates(key)
        rows = self.request("query", self.articles, ids=candidates, output_fields=_SLOT_FIELDS)
        taken = {int(r["id"]): r for r in rows}
        for candidate in candidates:
            head = taken.get(candidate)
            if head is not None and head["key"] == key:
                return candidate, head
        for candidate in candidates:
            if candidate not in taken:
                return candidate, None
        raise StoreError(f"no free article id for {key!r}")  # 8 collisions: never seen

    def write_article(self, record: ArticleRecord, passages: Sequence[NewPassage] | None) -> int:
        """Store one article in the order described in the module's documentation."""
        article_id, head = self.slot(record.key)
        old_version = head["version"] if head is not None else None
        journal = f"write:{article_id}:{record.content_hash}"
        self.collections.set_meta({journal: str(article_id)})
        now = microseconds_now()
        if passages is not None:
            if passages:
                rows = passage_rows(record, article_id, passages, now)
                self.request("upsert", self.passages, rows)
            passage_count = len(passages)
        else:
            # Only the metadata changed: the passages' copies of the filter fields follow.
            self.update_passage_filters(article_id, record)
            passage_count = int(head["passage_count"]) if head is not None else 0
        text_rows = article_rows(record, article_id, passage_count, now)
        if len(text_rows) > 1:
            self.request("upsert", self.articles, text_rows[:-1])
        # The commit point: the head names the new version.
        self.request("upsert", self.articles, text_rows[-1:])
        if old_version is not None and old_version != record.content_hash:
            self.delete_version(article_id, old_version)
        self.request("delete", self.meta, ids=[journal])
        return article_id

    def update_passage_filters(self, article_id: int, record: ArticleRecord) -> None:
        rows = self.query_all(
            self.passages,
            "article_id == {a} and version == {v}",
            {"a": article_id, "v": record.content_hash},
            ["id"],
        )
        fields = passage_filter_fields(record)
        if rows:
            updates = [{"id": int(r["id"]), **fields} for r in rows]
            self.request("upsert", self.passages, updates, partial_update=True)

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
