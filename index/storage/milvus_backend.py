"""The Milvus backend: articles, passages and vectors in Milvus, for libraries that outgrow
one machine or are shared by several processes (``[storage] backend = "milvus"``).

``[storage.milvus] uri`` is a path for Milvus Lite (embedded, in this process) or the
address of a Milvus server or cluster (the token comes from the environment variable named
by ``token_env``); the code is the same. Dense search runs on the passages' vector field,
keyword search on the sparse field that Milvus's own BM25 function makes from the
passage text, and the date, outlet and country filters are expressions on scalar fields
inside each search. Collections are created with Strong consistency: a search sees every
write acknowledged before it, whichever process made it.

Durability without transactions. Milvus writes rows, not transactions, so an article is
written in an order that makes its *head row* the commit point:

1. a journal row names the article and the version being written;
2. the rows of the new version are upserted: the continuation rows of its text and its
   passages (ids derived from key, version and ordinal, so a repeated write upserts the
   same rows);
3. the head row is upserted, now naming the new version: from here the article is stored;
4. the rows of the version it replaced are deleted, then the journal row.

A passage is shown only when its article's head names its version (`passages` checks),
and a hit only when the head's metadata passes the search's filter (the knowledge base
checks), so rows of an interrupted write are never shown. A write interrupted before (3)
leaves the old article as it was; after (3), the new one. The leftover rows of an
interrupted write are deleted by the next write of that article, or by the sweep of the
journal at open: at once under Milvus Lite (whose files one process holds), after an hour
on a server (where another process may be writing that very article now). An acknowledged
write is in Milvus's write-ahead log (Milvus Lite: a file in the data folder, flushed to
the OS on each write; a server: its WAL), so a killed process loses nothing acknowledged.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from index.config import Config, SearchConfig
from index.errors import StoreError
from index.models import Article, Passage
from index.storage.backend import ExportedArticle, Ranking, StorageBackend, Vectors, WriteSession
from index.storage.keyword_query import query_terms
from index.storage.milvus_schema import (
    PLACEHOLDER,
    article_from_rows,
    article_id_candidates,
    article_rows,
    passage_filter_fields,
    passage_from_row,
    passage_rows,
    passage_schema,
    published_value,
    schemas,
)
from index.storage.rows import ArticleFilter, ArticleRecord, ArticleRow, NewPassage
from index.storage.sqlite_store import SQLiteStore

__all__ = ["STATE_DB_NAME", "MilvusBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")
STATE_DB_NAME = "state.sqlite3"
# On a server, journal rows older than this are of a dead writer.
SERVER_SWEEP_AFTER_S = 3600
_HEAD_FIELDS = [
    "id", "article_id", "part", "parts", "version", "body", "key", "title", "source",
    "content_hash", "metadata_hash", "url", "outlet", "country", "language", "author",
    "published_text", "passage_count",
]  # fmt: skip
_SLOT_FIELDS = ["id", "key", "version", "content_hash", "metadata_hash", "passage_count"]
_PASSAGE_FIELDS = ["id", "article_id", "version", "ordinal", "start", "end", "sentences"]
_QUERY_LIMIT = 16_384


def _now() -> int:
    return time.time_ns() // 1000


def _expression(where: ArticleFilter) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if where.since is not None:
        clauses.append("published >= {since}")
        params["since"] = published_value(where.since)
    if where.until is not None:
        clauses.append("published <= {until}")
        params["until"] = published_value(where.until)
    if where.outlet is not None:
        clauses.append("outlet_lc == {outlet}")
        params["outlet"] = where.outlet.lower()
    if where.country is not None:
        clauses.append("country_lc == {country}")
        params["country"] = where.country.lower()
    return " and ".join(clauses), params


class _MilvusSession(WriteSession):
    def __init__(self, backend: MilvusBackend) -> None:
        self._backend = backend

    def find_article(self, key: str) -> ArticleRow | None:
        return self._backend.find_article(key)

    def store_article(self, record: ArticleRecord, passages: Sequence[NewPassage] | None) -> int:
        return self._backend.write_article(record, passages)


class MilvusBackend(StorageBackend):
    """A library in Milvus; see the module's documentation for the write order."""

    name = "milvus"

    def __init__(self, config: Config, client: Any, data_dir: Path, local_path: Path | None):
        self.config = config
        self.settings = config.storage.milvus
        self.native_hybrid = self.settings.fusion == "milvus"
        self.client = client
        self.data_dir = data_dir
        self.local_path = local_path
        prefix = self.settings.collection_prefix
        self.articles_name = f"{prefix}_articles"
        self.passages_name = f"{prefix}_passages"
        self.meta_name = f"{prefix}_meta"
        self._searchable = True
        self._state: SQLiteStore | None = None

    @classmethod
    def open(cls, config: Config, data_dir: Path) -> MilvusBackend:
        from pymilvus import MilvusClient

        settings = config.storage.milvus
        uri = settings.uri
        local: Path | None = None
        if "://" not in uri:
            local = (data_dir / uri).expanduser()
            local.parent.mkdir(parents=True, exist_ok=True)
            uri = str(local)
        token = os.environ.get(settings.token_env, "")
        # pymilvus logs every failed request, and Milvus Lite's in-process server the
        # requests it does not implement (it falls back): geobot reports errors itself.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        try:
            client = MilvusClient(
                uri=uri, token=token, db_name=settings.db_name, timeout=settings.timeout_s
            )
        except Exception as exc:
            raise StoreError(f"cannot open Milvus at {uri}: {_message(exc)}") from None
        backend = cls(config, client, data_dir, local)
        try:
            backend._create_collections()
            backend.sweep(older_than_s=0 if local is not None else SERVER_SWEEP_AFTER_S)
        except BaseException:
            backend.close()
            raise
        return backend

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except StoreError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("pymilvus", "grpc", "milvus_lite")):
                raise StoreError(f"Milvus: {_message(exc)}") from None
            raise

    def _create_collections(self) -> None:
        made = schemas(self.client, self.settings)
        for name, schema in (
            (self.articles_name, made["articles"]),
            (self.meta_name, made["meta"]),
        ):
            if self._call(lambda name=name: self.client.has_collection(name)):  # type: ignore[misc]
                continue
            params = self.client.prepare_index_params()
            params.add_index("placeholder", index_type="FLAT", metric_type="L2")
            self._call(
                lambda name=name, schema=schema, params=params: self.client.create_collection(  # type: ignore[misc]
                    name, schema=schema, index_params=params, consistency_level="Strong"
                )
            )

    def _create_passages(self, dimension: int) -> None:
        if self._call(lambda: self.client.has_collection(self.passages_name)):
            return
        params = self.client.prepare_index_params()
        params.add_index(
            "vector",
            index_type=self.settings.index_type,
            metric_type="IP",
            params=dict(self.settings.index_params),
        )
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        schema = passage_schema(self.client, self.settings, dimension)
        self._call(
            lambda: self.client.create_collection(
                self.passages_name, schema=schema, index_params=params, consistency_level="Strong"
            )
        )

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        try:
            self.client.close()
        except Exception as exc:  # closing must not hide the error that led here
            log.debug("closing Milvus: %s", exc)

    @property
    def state_database(self) -> SQLiteStore:
        if self._state is None:
            self._state = SQLiteStore(self.data_dir / STATE_DB_NAME)
        return self._state

    # -- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._call(
            lambda: self.client.query(self.meta_name, ids=[key], output_fields=["value"])
        )
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, values: dict[str, str]) -> None:
        now = _now()
        rows = [
            {"key": k, "value": v, "written_at": now, "placeholder": PLACEHOLDER}
            for k, v in values.items()
        ]
        self._call(lambda: self.client.upsert(self.meta_name, rows))

    def attach_vectors(self, dimension: int, *, stored_vectors_usable: bool) -> None:
        self._create_passages(dimension)
        self._searchable = stored_vectors_usable

    def prepare_reembedding(self, dimension: int) -> None:
        # The vector field's dimension is fixed: the passages are written anew, article
        # by article, into a new collection. Interrupted, the model recorded is still the
        # old one, so the library asks for `reindex` again.
        self._call(lambda: self.client.drop_collection(self.passages_name))
        self._create_passages(dimension)
        self._searchable = True

    def rebuild_vector_index(self) -> None:
        # Milvus maintains its indexes itself.
        self._searchable = True

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, final: bool, bulk: bool = False) -> Iterator[WriteSession]:
        yield _MilvusSession(self)

    def _head(self, article_id: int) -> dict[str, Any] | None:
        rows = self._call(
            lambda: self.client.query(
                self.articles_name, ids=[article_id], output_fields=_SLOT_FIELDS
            )
        )
        return rows[0] if rows else None

    def _slot(self, key: str) -> tuple[int, dict[str, Any] | None]:
        """The id of the article with `key` and its head row, or the id a new article with
        that key takes and None."""
        candidates = article_id_candidates(key)
        rows = self._call(
            lambda: self.client.query(
                self.articles_name, ids=candidates, output_fields=_SLOT_FIELDS
            )
        )
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
        article_id, head = self._slot(record.key)
        old_version = head["version"] if head is not None else None
        journal = f"write:{article_id}:{record.content_hash}"
        self.set_meta({journal: str(article_id)})
        now = _now()
        if passages is not None:
            if passages:
                rows = passage_rows(record, article_id, passages, now)
                self._call(lambda: self.client.upsert(self.passages_name, rows))
            passage_count = len(passages)
        else:
            # Only the metadata changed: the passages' copies of the filter fields follow.
            self._update_passage_filters(article_id, record)
            passage_count = int(head["passage_count"]) if head is not None else 0
        text_rows = article_rows(record, article_id, passage_count, now)
        if len(text_rows) > 1:
            continuation = text_rows[:-1]
            self._call(lambda: self.client.upsert(self.articles_name, continuation))
        self._call(lambda: self.client.upsert(self.articles_name, text_rows[-1:]))
        if old_version is not None and old_version != record.content_hash:
            self._delete_version(article_id, old_version)
        self._call(lambda: self.client.delete(self.meta_name, ids=[journal]))
        return article_id

    def _update_passage_filters(self, article_id: int, record: ArticleRecord) -> None:
        rows = self._query_all(
            self.passages_name,
            "article_id == {a} and version == {v}",
            {"a": article_id, "v": record.content_hash},
            ["id"],
        )
        fields = passage_filter_fields(record)
        if rows:
            updates = [{"id": int(r["id"]), **fields} for r in rows]
            self._call(lambda: self.client.upsert(self.passages_name, updates, partial_update=True))

    def _delete_version(self, article_id: int, version: str | None) -> None:
        """Delete an article's passages and text rows of `version` (all when None)."""
        expression = "article_id == {a}"
        params: dict[str, Any] = {"a": article_id}
        if version is not None:
            expression += " and version == {v}"
            params["v"] = version
        self._call(lambda: self.client.delete(self.passages_name, filter=_expr(expression, params)))
        if version is not None:
            expression += " and part > 0"
        self._call(lambda: self.client.delete(self.articles_name, filter=_expr(expression, params)))

    def delete_article(self, article_id: int) -> None:
        journal = f"delete:{article_id}"
        self.set_meta({journal: str(article_id)})
        # The head first: from then on nothing of the article is shown.
        self._call(lambda: self.client.delete(self.articles_name, ids=[article_id]))
        self._delete_version(article_id, None)
        self._call(lambda: self.client.delete(self.meta_name, ids=[journal]))

    def sweep(self, *, older_than_s: float) -> int:
        """Delete the rows left by interrupted writes journaled more than `older_than_s`
        ago: every row of such an article not of the version its head names."""
        cutoff = _now() - int(older_than_s * 1_000_000)
        entries = self._query_all(
            self.meta_name,
            'key like "write:%" or key like "delete:%"',
            {},
            ["key", "value", "written_at"],
        )
        swept = 0
        for entry in entries:
            if int(entry["written_at"]) > cutoff:
                continue
            article_id = int(entry["value"])
            head = self._head(article_id)
            if head is None:
                self._delete_version(article_id, None)
            elif self._call(lambda: self.client.has_collection(self.passages_name)):
                params = {"a": article_id, "v": head["version"]}
                stale = "article_id == {a} and version != {v}"
                self._call(
                    lambda params=params: self.client.delete(  # type: ignore[misc]
                        self.passages_name, filter=_expr(stale, params)
                    )
                )
                self._call(
                    lambda params=params: self.client.delete(  # type: ignore[misc]
                        self.articles_name, filter=_expr(stale, params)
                    )
                )
            key = entry["key"]
            self._call(lambda key=key: self.client.delete(self.meta_name, ids=[key]))  # type: ignore[misc]
            swept += 1
        if swept:
            log.info("cleaned up after %d interrupted write(s)", swept)
        return swept

    # -- searching ------------------------------------------------------------------------

    def dense_search(self, vector: Vectors, k: int, where: ArticleFilter) -> Ranking:
        if not self._searchable:
            return []
        expression, params = _expression(where)
        found = self._call(
            lambda: self.client.search(
                self.passages_name,
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="vector",
                limit=min(k, _QUERY_LIMIT),
                filter=_expr(expression, params),
                output_fields=["id"],
                search_params={"metric_type": "IP", "params": dict(self.settings.search_params)},
            )
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def keyword_search(
        self, query: str, k: int, where: ArticleFilter, settings: SearchConfig
    ) -> Ranking:
        terms = query_terms(query)
        if not terms:
            return []
        expression, params = _expression(where)
        found = self._call(
            lambda: self.client.search(
                self.passages_name,
                data=[" ".join(terms)],
                anns_field="sparse",
                limit=min(k, _QUERY_LIMIT),
                filter=_expr(expression, params),
                output_fields=["id"],
                search_params={"metric_type": "BM25"},
            )
        )
        # Milvus Lite reports bm25 negated; a server, as is. Higher is better here.
        return [(int(hit["id"]), abs(float(hit["distance"]))) for hit in found[0]]

    def hybrid_search(
        self,
        query: str,
        vector: Vectors,
        k: int,
        where: ArticleFilter,
        settings: SearchConfig,
    ) -> list[tuple[int, float, float | None, float | None]]:
        from pymilvus import AnnSearchRequest, RRFRanker

        terms = query_terms(query)
        if not self._searchable or not terms:
            dense = self.dense_search(vector, k, where) if self._searchable else []
            keyword = self.keyword_search(query, k, where, settings)
            return [(pid, score, score, None) for pid, score in dense] or [
                (pid, score, None, score) for pid, score in keyword
            ]
        expression, params = _expression(where)
        requests = [
            AnnSearchRequest(
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="vector",
                param={"metric_type": "IP", "params": dict(self.settings.search_params)},
                limit=k,
                expr=_expr(expression, params) or None,
            ),
            AnnSearchRequest(
                data=[" ".join(terms)],
                anns_field="sparse",
                param={"metric_type": "BM25"},
                limit=k,
                expr=_expr(expression, params) or None,
            ),
        ]
        found = self._call(
            lambda: self.client.hybrid_search(
                self.passages_name,
                requests,
                RRFRanker(settings.rrf_k),
                limit=k,
                output_fields=["id"],
            )
        )
        return [(int(hit["id"]), float(hit["distance"]), None, None) for hit in found[0]]

    # -- reading --------------------------------------------------------------------------

    def _query_all(
        self, collection: str, expression: str, params: dict[str, Any], fields: list[str]
    ) -> list[dict[str, Any]]:
        """Every row matching `expression`, however many."""

        literal = _expr(expression, params)

        def run() -> list[dict[str, Any]]:
            iterator = self.client.query_iterator(
                collection,
                batch_size=1000,
                filter=literal,
                output_fields=fields,
            )
            rows: list[dict[str, Any]] = []
            try:
                while batch := iterator.next():
                    rows.extend(batch)
            finally:
                iterator.close()
            return rows

        return self._call(run)

    def _heads(self, ids: Sequence[int], fields: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 1000):
            chunk = [int(i) for i in ids[start : start + 1000]]
            found.extend(
                self._call(
                    lambda chunk=chunk: self.client.query(  # type: ignore[misc]
                        self.articles_name,
                        filter=_expr("id in {ids} and part == 0", {"ids": chunk}),
                        output_fields=fields,
                    )
                )
            )
        return found

    def find_article(self, key: str) -> ArticleRow | None:
        article_id, head = self._slot(key)
        if head is None:
            return None
        return ArticleRow(article_id, head["content_hash"], head["metadata_hash"])

    def article_id(self, key: str) -> int | None:
        found = self.find_article(key)
        return found.id if found is not None else None

    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        return {i: article for i, (article, _) in self._versioned_articles(ids).items()}

    def _versioned_articles(self, ids: Sequence[int]) -> dict[int, tuple[Article, str]]:
        """Articles with the version their head names."""
        if not ids:
            return {}
        heads = self._heads(sorted(set(ids)), _HEAD_FIELDS)
        longer = [int(h["id"]) for h in heads if int(h["parts"]) > 1]
        parts: dict[int, list[dict[str, Any]]] = {}
        if longer:
            rows = self._query_all(
                self.articles_name,
                "article_id in {ids} and part > 0",
                {"ids": longer},
                ["article_id", "part", "version", "body"],
            )
            for row in rows:
                parts.setdefault(int(row["article_id"]), []).append(row)
        return {
            int(h["id"]): (article_from_rows(h, parts.get(int(h["id"]), [])), str(h["version"]))
            for h in heads
        }

    def _passage_rows(self, expression: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._query_all(self.passages_name, expression, params, _PASSAGE_FIELDS)

    def _current_passages(
        self, rows: list[dict[str, Any]]
    ) -> tuple[dict[int, Passage], dict[int, dict[str, Any]]]:
        """The passages of `rows` whose article's head names their version."""
        articles = self._versioned_articles(sorted({int(r["article_id"]) for r in rows}))
        passages: dict[int, Passage] = {}
        current: dict[int, dict[str, Any]] = {}
        for row in rows:
            article, version = articles.get(int(row["article_id"]), (None, None))
            if article is None or version != row["version"]:
                continue  # of an interrupted or superseded write
            passages[int(row["id"])] = passage_from_row(row, article)
            current[int(row["id"])] = row
        return passages, current

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        if not ids:
            return {}
        rows = self._passage_rows("id in {ids}", {"ids": [int(i) for i in ids]})
        return self._current_passages(rows)[0]

    def passages_of(self, article_id: int) -> list[Passage]:
        rows = self._passage_rows("article_id == {a}", {"a": int(article_id)})
        found = self._current_passages(rows)[0]
        return sorted(found.values(), key=lambda p: p.ordinal)

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, Vectors]:
        if not ids:
            return {}
        rows = self._query_all(
            self.passages_name, "id in {ids}", {"ids": [int(i) for i in ids]}, ["id", "vector"]
        )
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def _all_heads(self, fields: list[str]) -> list[dict[str, Any]]:
        return self._query_all(self.articles_name, "part == 0", {}, fields)

    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        heads = self._all_heads(["id", "published"])
        heads.sort(key=lambda h: (h["published"] is None, -(h["published"] or 0), int(h["id"])))
        page = heads[offset : None if limit is None else offset + limit]
        found = self.articles([int(h["id"]) for h in page])
        return [found[int(h["id"])] for h in page if int(h["id"]) in found]

    def find_articles(self, text: str, *, limit: int = 25) -> list[Article]:
        needle = text.strip().lower()
        wanted = int(needle) if needle.isdigit() else -1
        heads = self._all_heads(["id", "title", "published"])
        matching = [h for h in heads if int(h["id"]) == wanted or needle in str(h["title"]).lower()]
        matching.sort(
            key=lambda h: (
                int(h["id"]) != wanted,
                h["published"] is None,
                -(h["published"] or 0),
            )
        )
        chosen = [int(h["id"]) for h in matching[:limit]]
        found = self.articles(chosen)
        return [found[i] for i in chosen if i in found]

    def document_frequency(self, term: str) -> int:
        words = query_terms(term)
        if not words:
            return 0
        rows = self._call(
            lambda: self.client.query(
                self.passages_name,
                filter=_expr("TEXT_MATCH(text, {t})", {"t": " ".join(words)}),
                output_fields=["count(*)"],
            )
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def _count(self, collection: str, expression: str = "") -> int:
        rows = self._call(
            lambda: self.client.query(collection, filter=expression, output_fields=["count(*)"])
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def article_count(self) -> int:
        return self._count(self.articles_name, "part == 0")

    def passage_count(self) -> int:
        return self._count(self.passages_name)

    def vector_count(self) -> int:
        return self._count(self.passages_name) if self._searchable else 0

    def index_description(self) -> str:
        return f"milvus:{self.settings.index_type}"

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        heads = [h for h in self._all_heads(["published", "published_text"]) if h["published"]]
        if not heads:
            return None, None
        first = min(heads, key=lambda h: int(h["published"]))
        last = max(heads, key=lambda h: int(h["published"]))
        return (
            datetime.fromisoformat(first["published_text"]),
            datetime.fromisoformat(last["published_text"]),
        )

    def outlet_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for head in self._all_heads(["outlet"]):
            name = head["outlet"] or "(unknown)"
            counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def disk_bytes(self) -> int:
        paths = [self.data_dir / STATE_DB_NAME]
        if self.local_path is not None:
            paths.append(self.local_path)
        total = 0
        for path in paths:
            if path.is_file():
                total += path.stat().st_size
            elif path.is_dir():
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return total

    def export_articles(self, batch: int = 64) -> Iterator[ExportedArticle]:
        ids = [int(h["id"]) for h in self._all_heads(["id"])]
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            heads = {
                int(h["id"]): h for h in self._heads(chunk, ["id", "content_hash", "metadata_hash"])
            }
            rows = self._query_all(
                self.passages_name,
                "article_id in {ids}",
                {"ids": chunk},
                [*_PASSAGE_FIELDS, "vector"],
            )
            passages, current = self._current_passages(rows)
            articles = self.articles(chunk)
            by_article: dict[int, list[Passage]] = {}
            for passage in passages.values():
                by_article.setdefault(passage.article_id, []).append(passage)
            for article_id in chunk:
                article, head = articles.get(article_id), heads.get(article_id)
                if article is None or head is None:
                    continue
                own = sorted(by_article.get(article_id, []), key=lambda p: p.ordinal)
                vectors = (
                    np.asarray([current[p.id]["vector"] for p in own], dtype=np.float32)
                    if own
                    else np.zeros((0, 0), np.float32)
                )
                yield ExportedArticle(
                    article, head["content_hash"], head["metadata_hash"], own, vectors
                )


def _expr(template: str, params: dict[str, Any]) -> str:
    """A filter expression with its parameters written in as literals (Milvus Lite does
    not take filter parameters)."""
    return (
        template.format(**{name: _literal(v) for name, v in params.items()}) if params else template
    )


def _literal(value: object) -> str:
    """A value as a Milvus expression literal (numbers, strings, lists of them)."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"no Milvus literal for {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(f"no Milvus literal for {value!r}")


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]
