"""The Milvus backend: articles, passages and vectors in Milvus, for libraries that outgrow
one machine or are shared by several processes (``[storage] backend = "milvus"``).

``[storage.milvus] uri`` is a path for Milvus Lite (embedded, in this process) or the
address of a Milvus server or cluster (the token comes from the environment variable named
by ``token_env``); the code is the same. Dense search runs on the passages' vector field,
keyword search on the sparse field that Milvus's own BM25 function makes from the
passage text, and the date, outlet and country filters are expressions on scalar fields
inside each search. Collections are created with Strong consistency: a search sees every
write acknowledged before it, whichever process made it.

Durability without transactions: an article's head row is its commit point, written after
its passages and text and before the old version's rows go (:mod:`index.storage.milvus_writes`);
readers show only passages of the version a head names. The leftovers of an interrupted
write are swept from the journal at open: at once under Milvus Lite (whose files one
process holds), after an hour on a server (where another process may be writing that very
article). An acknowledged write is in Milvus's write-ahead log (Milvus Lite: a file in the
data folder, written on each request; a server: its WAL), so a killed process loses nothing
acknowledged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.config import Config, SearchConfig
from index.errors import StoreError
from index.models import Article, Passage
from index.storage.backend import ExportedArticle, Ranking, StorageBackend, Vectors, WriteSession
from index.storage.keyword_query import query_terms
from index.storage.milvus_client import (
    HEAD_FIELDS,
    PASSAGE_FIELDS,
    QUERY_LIMIT,
    MilvusCollections,
    error_message,
    filter_expression,
    with_literals,
)
from index.storage.milvus_schema import article_from_rows, passage_from_row
from index.storage.milvus_writes import ArticleWrite, ArticleWriter
from index.storage.rows import ArticleFilter, ArticleRecord, ArticleRow, NewPassage
from index.storage.sqlite_store import SQLiteStore
from index.storage.term_frequencies import SampledTermFrequencies

__all__ = ["STATE_DB_NAME", "MilvusBackend"]

log = logging.getLogger(__name__)

STATE_DB_NAME = "state.sqlite3"
# Milvus Lite serves one data path per process, shared by every client of it, and holds
# its lock until released: the last backend on a path to close releases it, so another
# process can open it next.
_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()
# On a server, journal rows older than this are of a dead writer.
SERVER_SWEEP_AFTER_S = 3600


# A session holds stored articles back and writes them in one batch (a request per
# collection and step, not per article) when it ends, or earlier once it holds this many.
SESSION_BATCH_PASSAGES = 2_000
SESSION_BATCH_ARTICLES = 256


class _MilvusSession(WriteSession):
    def __init__(self, backend: MilvusBackend) -> None:
        self._backend = backend
        self._pending: dict[str, ArticleWrite] = {}
        self._pending_passages = 0

    def find_article(self, key: str) -> ArticleRow | None:
        if key in self._pending:
            self.flush()
        return self._backend.find_article(key)

    def find_articles(self, keys: Sequence[str]) -> dict[str, ArticleRow]:
        if any(key in self._pending for key in keys):
            self.flush()
        return self._backend.find_articles_by_key(keys)

    def store_article(self, record: ArticleRecord, passages: Sequence[NewPassage] | None) -> None:
        if record.key in self._pending:
            self.flush()  # a batch writes each article once; the later write wins
        self._pending[record.key] = ArticleWrite(record, passages)
        self._pending_passages += len(passages or ())
        if (
            self._pending_passages >= SESSION_BATCH_PASSAGES
            or len(self._pending) >= SESSION_BATCH_ARTICLES
        ):
            self.flush()

    def flush(self) -> None:
        """Write the articles held back, as one batch."""
        if not self._pending:
            return
        writes = list(self._pending.values())
        self._pending.clear()
        self._pending_passages = 0
        self._backend.writer.write_articles(writes)


class MilvusBackend(StorageBackend):
    """A library in Milvus; see the module's documentation for the write order."""

    name = "milvus"

    def __init__(self, config: Config, client: Any, data_dir: Path, local_path: Path | None):
        self.config = config
        self.settings = config.storage.milvus
        self.native_hybrid = self.settings.fusion == "milvus"
        self.client = client
        self.collections = MilvusCollections(client, self.settings)
        self.writer = ArticleWriter(self.collections)
        self.query_all = self.collections.query_all
        self.articles_name = self.collections.articles
        self.passages_name = self.collections.passages
        self.data_dir = data_dir
        self.local_path = local_path
        self._lite_held = local_path
        self._searchable = True
        self._frequencies = SampledTermFrequencies(self._read_sample, self.passage_count)
        self._state: SQLiteStore | None = None

    # -- settings -------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        return self.collections.get_meta(key)

    def set_meta(self, values: dict[str, str]) -> None:
        self.collections.set_meta(values)

    @classmethod
    def open(cls, config: Config, data_dir: Path) -> MilvusBackend:
        # gRPC's own log lines (keepalive pings refused by Milvus Lite's server, and the
        # like) would land in the middle of command output; geobot reports errors itself.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        from pymilvus import MilvusClient

        settings = config.storage.milvus
        uri = settings.uri
        local: Path | None = None
        if "://" not in uri:
            local = (data_dir / uri).expanduser()
            local.parent.mkdir(parents=True, exist_ok=True)
            uri = str(local)
        token = os.environ.get(settings.token_env, "")
        # Sweeping at once is safe only for the first user of a Milvus Lite path: no other
        # process can hold it, and no other backend of this process is writing.
        sweep_after = SERVER_SWEEP_AFTER_S
        if local is not None:
            with _lite_lock:
                _lite_users[uri] = _lite_users.get(uri, 0) + 1
                if _lite_users[uri] == 1:
                    sweep_after = 0
        # pymilvus logs every failed request, Milvus Lite a server it cannot start (with a
        # traceback) and the requests it does not implement (the client falls back):
        # geobot reports errors itself, in one line.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
        try:
            client = MilvusClient(
                uri=uri, token=token, db_name=settings.db_name, timeout=settings.timeout_s
            )
        except Exception as exc:
            _release_lite(local)
            hint = (
                " (Milvus Lite serves one process at a time: is another geobot using it?"
                " For several processes run `python -m milvus_lite server --data-dir PATH"
                " --port 19530` and set [storage.milvus] uri to http://127.0.0.1:19530)"
                if local is not None
                else ""
            )
            raise StoreError(f"cannot open Milvus at {uri}: {error_message(exc)}{hint}") from None
        backend = cls(config, client, data_dir, local)
        try:
            backend.collections.create_collections()
            backend.writer.sweep(older_than_s=sweep_after)
        except BaseException:
            backend.close()
            raise
        return backend

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        try:
            self.client.close()
        except Exception as exc:  # closing must not hide the error that led here
            log.debug("closing Milvus: %s", exc)
        _release_lite(self._lite_held)
        self._lite_held = None

    @property
    def state_database(self) -> SQLiteStore:
        if self._state is None:
            self._state = SQLiteStore(self.data_dir / STATE_DB_NAME)
        return self._state

    # -- meta -----------------------------------------------------------------------------

    def attach_vectors(self, dimension: int, *, stored_vectors_usable: bool) -> None:
        self.collections.create_passages(dimension)
        self._searchable = stored_vectors_usable

    def prepare_reembedding(self, dimension: int) -> None:
        # The vector field's dimension is fixed: the passages are written anew, article
        # by article, into a new collection. Interrupted, the model recorded is still the
        # old one, so the library asks for `reindex` again.
        self.collections.request("drop_collection", self.passages_name)
        self.collections.create_passages(dimension)
        self._searchable = True

    def rebuild_vector_index(self) -> None:
        # Milvus maintains its indexes itself.
        self._searchable = True

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, final: bool, bulk: bool = False) -> Iterator[WriteSession]:
        session = _MilvusSession(self)
        yield session
        # Interrupted (an exception), what the session held back is dropped: not stored,
        # as a SQLite transaction rolled back.
        session.flush()

    def delete_article(self, article_id: int) -> None:
        self.writer.delete_article(article_id)

    # -- searching ------------------------------------------------------------------------

    def dense_search(self, vector: Vectors, k: int, where: ArticleFilter) -> Ranking:
        if not self._searchable:
            return []
        expression, params = filter_expression(where)
        found = self.collections.request(
            "search",
            self.passages_name,
            data=[np.asarray(vector, dtype=np.float32).tolist()],
            anns_field="vector",
            limit=min(k, QUERY_LIMIT),
            filter=with_literals(expression, params),
            output_fields=["id"],
            search_params={"metric_type": "IP", "params": dict(self.settings.search_params)},
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def keyword_search(
        self, query: str, k: int, where: ArticleFilter, settings: SearchConfig
    ) -> Ranking:
        terms = query_terms(query)
        if not terms:
            return []
        expression, params = filter_expression(where)
        found = self.collections.request(
            "search",
            self.passages_name,
            data=[" ".join(terms)],
            anns_field="sparse",
            limit=min(k, QUERY_LIMIT),
            filter=with_literals(expression, params),
            output_fields=["id"],
            search_params={"metric_type": "BM25"},
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
        expression, params = filter_expression(where)
        requests = [
            AnnSearchRequest(
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="vector",
                param={"metric_type": "IP", "params": dict(self.settings.search_params)},
                limit=k,
                expr=with_literals(expression, params) or None,
            ),
            AnnSearchRequest(
                data=[" ".join(terms)],
                anns_field="sparse",
                param={"metric_type": "BM25"},
                limit=k,
                expr=with_literals(expression, params) or None,
            ),
        ]
        found = self.collections.request(
            "hybrid_search",
            self.passages_name,
            requests,
            RRFRanker(settings.rrf_k),
            limit=k,
            output_fields=["id"],
        )
        return [(int(hit["id"]), float(hit["distance"]), None, None) for hit in found[0]]

    # -- reading --------------------------------------------------------------------------

    def find_article(self, key: str) -> ArticleRow | None:
        article_id, head = self.writer.slot(key)
        if head is None:
            return None
        return ArticleRow(article_id, head["content_hash"], head["metadata_hash"])

    def find_articles_by_key(self, keys: Sequence[str]) -> dict[str, ArticleRow]:
        """`find_article` of several keys, in one request per few thousand keys."""
        found: dict[str, ArticleRow] = {}
        for key, (article_id, head) in self.writer.slots(keys).items():
            if head is not None:
                found[key] = ArticleRow(article_id, head["content_hash"], head["metadata_hash"])
        return found

    def article_id(self, key: str) -> int | None:
        found = self.find_article(key)
        return found.id if found is not None else None

    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        return {i: article for i, (article, _) in self._versioned_articles(ids).items()}

    def _versioned_articles(self, ids: Sequence[int]) -> dict[int, tuple[Article, str]]:
        """Articles with the version their head names."""
        if not ids:
            return {}
        heads = self.collections.heads(sorted(set(ids)), HEAD_FIELDS)
        longer = [int(h["id"]) for h in heads if int(h["parts"]) > 1]
        parts: dict[int, list[dict[str, Any]]] = {}
        if longer:
            rows = self.query_all(
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

    def _rows_by_id(
        self, collection: str, ids: Sequence[int], fields: list[str]
    ) -> list[dict[str, Any]]:
        """Rows by primary key: one request per QUERY_LIMIT ids (an iterator costs more
        round trips)."""
        unique = sorted({int(i) for i in ids})
        found: list[dict[str, Any]] = []
        for start in range(0, len(unique), QUERY_LIMIT):
            chunk = unique[start : start + QUERY_LIMIT]
            found.extend(
                self.collections.request("query", collection, ids=chunk, output_fields=fields)
            )
        return found

    def _passage_rows(self, expression: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.query_all(self.passages_name, expression, params, PASSAGE_FIELDS)

    def _current_passages(
        self, rows: list[dict[str, Any]]
    ) -> tuple[dict[int, Passage], dict[int, dict[str, Any]], dict[int, Article]]:
        """The passages of `rows` whose article's head names their version, their rows,
        and their articles."""
        articles = self._versioned_articles(sorted({int(r["article_id"]) for r in rows}))
        passages: dict[int, Passage] = {}
        current: dict[int, dict[str, Any]] = {}
        for row in rows:
            article, version = articles.get(int(row["article_id"]), (None, None))
            if article is None or version != row["version"]:
                continue  # of an interrupted or superseded write
            passages[int(row["id"])] = passage_from_row(row, article)
            current[int(row["id"])] = row
        return passages, current, {i: article for i, (article, _) in articles.items()}

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        return self.passages_with_articles(ids)[0]

    def passages_with_articles(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, Passage], dict[int, Article]]:
        if not ids:
            return {}, {}
        rows = self._rows_by_id(self.passages_name, ids, PASSAGE_FIELDS)
        passages, _, articles = self._current_passages(rows)
        return passages, articles

    def passages_of(self, article_id: int) -> list[Passage]:
        rows = self._passage_rows("article_id == {a}", {"a": int(article_id)})
        found = self._current_passages(rows)[0]
        return sorted(found.values(), key=lambda p: p.ordinal)

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, Vectors]:
        if not ids:
            return {}
        rows = self._rows_by_id(self.passages_name, ids, ["id", "vector"])
        return {int(r["id"]): np.asarray(r["vector"], dtype=np.float32) for r in rows}

    def _all_heads(self, fields: list[str]) -> list[dict[str, Any]]:
        return self.query_all(self.articles_name, "part == 0", {}, fields)

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

    def document_frequency(self, term: str, *, passage_count: int | None = None) -> int:
        # A TEXT_MATCH count reads every passage (~5 s a word at 37,000 in Milvus Lite):
        # counted in a sample instead (exact while the library fits in it).
        return self._frequencies.frequency(term, total=passage_count)

    def _read_sample(self, size: int) -> list[str]:
        rows = self.collections.request(
            "query", self.passages_name, filter="", limit=size, output_fields=["text"]
        )
        return [str(row["text"]) for row in rows]

    def article_count(self) -> int:
        return self.collections.count(self.articles_name, "part == 0")

    def passage_count(self) -> int:
        return self.collections.count(self.passages_name)

    def vector_count(self) -> int:
        return self.collections.count(self.passages_name) if self._searchable else 0

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
                int(h["id"]): h
                for h in self.collections.heads(chunk, ["id", "content_hash", "metadata_hash"])
            }
            rows = self.query_all(
                self.passages_name,
                "article_id in {ids}",
                {"ids": chunk},
                [*PASSAGE_FIELDS, "vector"],
            )
            passages, current, _ = self._current_passages(rows)
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


def _release_lite(path: Path | None) -> None:
    """One user fewer of the Milvus Lite server of `path`; the last one stops it."""
    if path is None:
        return
    with _lite_lock:
        users = _lite_users.get(str(path), 0) - 1
        if users > 0:
            _lite_users[str(path)] = users
            return
        _lite_users.pop(str(path), None)
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(path))
