"""The default backend: SQLite + FTS5 (the source of truth) and FAISS (a cache of it).

Durability: each write session is one SQLite transaction that stamps a new generation;
the FAISS file is written (to a temporary file, renamed) inside it, tagged with that
generation, and the commit comes after. A process killed anywhere leaves either the old
committed state or the new one, and a FAISS file of a generation SQLite does not know is
rebuilt from the stored vectors on the next open (:mod:`index.storage.vector_sync`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np

from index.config import Config, SearchConfig
from index.errors import GeobotError
from index.models import Article, Passage
from index.storage.backend import ExportedArticle, Ranking, StorageBackend, Vectors, WriteSession
from index.storage.keyword_query import match_expression, prune_common_terms, query_terms
from index.storage.rows import ArticleFilter, ArticleRecord, ArticleRow, NewPassage
from index.storage.sqlite_store import SQLiteStore
from index.storage.vector_sync import SyncedVectors

__all__ = ["DB_NAME", "INDEX_NAME", "SQLiteBackend"]

DB_NAME = "geobot.sqlite3"
INDEX_NAME = "vectors.faiss"


class _SQLiteSession(WriteSession):
    def __init__(self, backend: SQLiteBackend) -> None:
        self._store = backend.sqlite
        self.removed: list[int] = []
        self.added_ids: list[int] = []
        self.added_vectors: list[Vectors] = []

    def find_article(self, key: str) -> ArticleRow | None:
        return self._store.find_article(key)

    def store_article(self, record: ArticleRecord, passages: Sequence[NewPassage] | None) -> None:
        article_id = self._store.upsert_article(
            existing_id=record.existing_id,
            key=record.key,
            title=record.title,
            text=record.text,
            url=record.url,
            outlet=record.outlet,
            published=record.published,
            country=record.country,
            language=record.language,
            author=record.author,
            source=record.source,
            content_hash=record.content_hash,
            metadata_hash=record.metadata_hash,
        )
        if passages is None:
            return
        if record.existing_id is not None:
            self.removed.extend(self._store.delete_passages(article_id))
        self.added_ids.extend(
            self._store.insert_passages(article_id, record.title, record.text, passages)
        )
        if passages:
            self.added_vectors.append(np.vstack([p.vector for p in passages]))


class SQLiteBackend(StorageBackend):
    """One data folder: ``geobot.sqlite3`` and ``vectors.faiss``."""

    name = "sqlite"

    def __init__(self, config: Config, store: SQLiteStore, data_dir: Path) -> None:
        self.config = config
        self.sqlite = store
        self.data_dir = data_dir
        self.index_path = data_dir / INDEX_NAME
        self._vectors: SyncedVectors | None = None
        # FAISS is not safe to search while it is being changed.
        self._index_lock = threading.RLock()

    @classmethod
    def open(cls, config: Config, data_dir: Path) -> SQLiteBackend:
        return cls(config, SQLiteStore(data_dir / DB_NAME), data_dir)

    def close(self) -> None:
        self.sqlite.close()

    @property
    def vectors(self) -> SyncedVectors:
        if self._vectors is None:
            raise GeobotError("the vector index is not loaded")  # pragma: no cover
        return self._vectors

    @property
    def generation(self) -> str:
        return self.sqlite.generation

    @property
    def state_database(self) -> SQLiteStore:
        return self.sqlite

    # -- model and vectors ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        return self.sqlite.get_meta(key)

    def set_meta(self, values: dict[str, str]) -> None:
        # A write of its own, not a search generation: settings change no search result.
        with self.sqlite.write():
            for key, value in values.items():
                self.sqlite.set_meta(key, value)

    def attach_vectors(self, dimension: int, *, stored_vectors_usable: bool) -> None:
        settings = self.config.index
        if stored_vectors_usable:
            self._vectors = SyncedVectors.open(settings, self.sqlite, self.index_path, dimension)
        else:
            self._vectors = SyncedVectors.empty(settings, self.sqlite, self.index_path, dimension)

    def prepare_reembedding(self, dimension: int) -> None:
        # Passages are replaced article by article; the index is rebuilt at the end.
        pass

    def rebuild_vector_index(self) -> None:
        dimension = int(self.sqlite.get_meta("dimension") or self.vectors.dimension)
        with self._index_lock:
            self._vectors = SyncedVectors(
                self.config.index,
                self.sqlite,
                self.index_path,
                dimension,
                self.vectors.index,
                None,
            )
            # Built inside the transaction: no other process's write can slip in between.
            with self.sqlite.transaction() as stamp:
                self._vectors.rebuild(in_transaction=True)
                self._vectors.save(stamp.generation, self._model())
            self._vectors.committed(stamp.generation)

    def _model(self) -> str:
        return self.sqlite.get_meta("model", in_transaction=True) or ""

    # -- writing ------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, final: bool, bulk: bool = False) -> Iterator[WriteSession]:
        vectors = self.vectors
        with self._index_lock:
            try:
                with self.sqlite.transaction() as stamp:
                    if not bulk:
                        vectors.catch_up(stamp.previous)
                    session = _SQLiteSession(self)
                    yield session
                    if not bulk:
                        added = np.vstack(
                            [np.zeros((0, vectors.dimension), np.float32), *session.added_vectors]
                        )
                        vectors.apply(session.removed, session.added_ids, added)
                    if final and not bulk:
                        vectors.save(stamp.generation, self._model())
                if not bulk:
                    vectors.committed(stamp.generation)
            except BaseException:
                # SQLite rolled back; the in-memory index may hold part of the batch.
                self._recover_vectors()
                raise

    def _recover_vectors(self) -> None:
        """After a failed write: the in-memory index again as committed."""
        try:
            self.vectors.rebuild(in_transaction=False)
        except GeobotError:
            # The store cannot be read either (damaged?): rebuild at the next chance.
            self.vectors.generation = None

    def delete_article(self, article_id: int) -> None:
        vectors = self.vectors
        with self._index_lock:
            try:
                with self.sqlite.transaction() as stamp:
                    vectors.catch_up(stamp.previous)
                    removed = self.sqlite.delete_article(article_id)
                    no_vectors = np.zeros((0, vectors.dimension), dtype=np.float32)
                    vectors.apply(removed, [], no_vectors)
                    vectors.save(stamp.generation, self._model())
                vectors.committed(stamp.generation)
            except BaseException:
                self._recover_vectors()
                raise

    # -- searching ----------------------------------------------------------------------

    def dense_search(self, vector: Vectors, k: int, where: ArticleFilter) -> Ranking:
        allowed = self.sqlite.filtered_passage_ids(where) if where.active else None
        with self._index_lock:
            # Another process may have written (and saved its index) since.
            self.vectors.refresh()
            return self.vectors.index.search(vector, k, allowed=allowed)

    def keyword_search(
        self, query: str, k: int, where: ArticleFilter, settings: SearchConfig
    ) -> Ranking:
        terms = query_terms(query)
        required: str | None = None
        if len(terms) > 2 and (settings.common_term_passages or settings.scored_postings):
            terms, required = prune_common_terms(
                terms,
                self.sqlite.term_frequencies(terms),
                common_term_passages=settings.common_term_passages,
                scored_postings=settings.scored_postings,
            )
        match = match_expression(terms)
        if match is None:
            return []
        return self.sqlite.keyword_search(
            match, k, where, title_weight=settings.title_weight, required=required
        )

    # -- reading ------------------------------------------------------------------------

    def find_article(self, key: str) -> ArticleRow | None:
        return self.sqlite.find_article(key)

    def article_id(self, key: str) -> int | None:
        return self.sqlite.article_id(key)

    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        return self.sqlite.passages(ids)

    def passages_with_articles(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, Passage], dict[int, Article]]:
        return self.sqlite.passages_with_articles(ids)

    def passages_of(self, article_id: int) -> list[Passage]:
        return self.sqlite.passages_of(article_id)

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, Vectors]:
        return self.sqlite.passage_vectors(ids)

    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        return self.sqlite.articles(ids)

    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        return self.sqlite.list_articles(limit=limit, offset=offset)

    def find_articles(self, text: str, *, limit: int = 25) -> list[Article]:
        return self.sqlite.find_articles(text, limit=limit)

    def article_titles(self) -> list[tuple[int, str, datetime | None]]:
        return self.sqlite.article_titles()

    def passage_ids_where(self, where: ArticleFilter) -> list[int]:
        return [int(i) for i in self.sqlite.filtered_passage_ids(where)]

    def document_frequency(self, term: str, *, passage_count: int | None = None) -> int:
        return self.sqlite.document_frequency(term)  # exact: FTS5 needs no size

    def article_count(self) -> int:
        return self.sqlite.article_count()

    def passage_count(self) -> int:
        return self.sqlite.passage_count()

    def vector_count(self) -> int:
        with self._index_lock:
            self.vectors.refresh()
            return len(self.vectors.index)

    def index_description(self) -> str:
        return self.vectors.index.factory

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        return self.sqlite.date_span()

    def outlet_counts(self) -> list[tuple[str, int]]:
        return self.sqlite.outlet_counts()

    def disk_bytes(self) -> int:
        return sum(
            p.stat().st_size
            for p in self.data_dir.iterdir()
            if p.is_file() and (p.name.startswith(DB_NAME) or p.name == INDEX_NAME)
        )

    def export_articles(self, batch: int = 64) -> Iterator[ExportedArticle]:
        offset = 0
        while True:
            page = self.sqlite.list_articles(limit=batch, offset=offset)
            if not page:
                return
            offset += len(page)
            for article in page:
                row = self.sqlite.find_article(article.key)
                if row is None:  # removed meanwhile
                    continue
                passages = self.sqlite.passages_of(article.id)
                stored = self.sqlite.passage_vectors([p.id for p in passages])
                vectors = (
                    np.vstack([stored[p.id] for p in passages])
                    if passages
                    else np.zeros((0, 0), np.float32)
                )
                yield ExportedArticle(
                    article, row.content_hash, row.metadata_hash, passages, vectors
                )
