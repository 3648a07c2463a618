"""The knowledge base: ingest articles into a storage backend and search them.

This is the one object the layers above use. It is given its collaborators (the
configuration, an :class:`~index.embedding.embedder.Embedder` and a
:class:`~index.storage.backend.StorageBackend`) rather than building them, so tests run it
with a small fake embedder and the real SQLite and FAISS, or Milvus Lite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import Literal

import numpy as np

from index.article_identity import content_digest, metadata_digest
from index.article_preparation import (
    ArticlePreparer,
    PreparedArticle,
    WriteTally,
    embedding_text,
)
from index.config import Config
from index.embedding.embedder import Embedder
from index.errors import (
    BadInputError,
    ModelMismatchError,
    NotFoundError,
    QueryError,
)
from index.models import (
    Article,
    FailedInput,
    IngestReport,
    ParsedArticle,
    Passage,
    SearchHit,
    StoreStats,
)
from index.ranking import reciprocal_rank_fusion, required_terms
from index.sources.outlets import OutletTable
from index.storage.backend import StorageBackend
from index.storage.factory import open_backend
from index.storage.rows import ArticleFilter, ArticleRecord, NewPassage
from index.storage.sqlite_backend import DB_NAME, INDEX_NAME

__all__ = [
    "DB_NAME",
    "INDEX_NAME",
    "KnowledgeBase",
    "SearchMode",
    "embedding_backend",
    "embedding_text",
]


SearchMode = Literal["hybrid", "dense", "keyword"]
# Passages gathered before one embedding call: large enough that sentence-transformers'
# length sorting keeps padding low, small enough to bound memory and lost work.
EMBED_BATCH_PASSAGES = 1024
# The meta key listing the embedding backends that built and searched the store's vectors.
BACKENDS_META = "embedding_backends"


class KnowledgeBase:
    """Articles, passages and their vectors in a storage backend, searchable three ways."""

    def __init__(
        self,
        config: Config,
        embedder: Embedder,
        store: StorageBackend,
        data_dir: Path,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.store = store
        self.data_dir = data_dir
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = Lock()
        self.outlets = OutletTable(config.outlets)
        self._preparer = ArticlePreparer(config.chunking, embedder, self.outlets)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        config: Config,
        embedder: Embedder,
        *,
        data_dir: Path | None = None,
        allow_model_change: bool = False,
    ) -> KnowledgeBase:
        """Open (or create) the knowledge base in `data_dir`.

        Raises ModelMismatchError when the store was built by another model, unless
        `allow_model_change` (what `reindex` uses), and DamagedStoreError when the database
        file is damaged. A vector index file that is missing, unreadable, damaged or out of
        step with SQLite is rebuilt from the stored vectors.
        """
        data_dir = (data_dir or config.resolved_data_dir()).expanduser()
        store = open_backend(config, data_dir)
        try:
            stored_model = store.get_meta("model")
            stored_dim = int(store.get_meta("dimension") or 0)
            if stored_model is None or store.passage_count() == 0:
                store.set_meta(
                    {
                        "model": embedder.model_id,
                        "dimension": str(embedder.dimension),
                        BACKENDS_META: embedding_backend(embedder),
                    }
                )
                stored_dim = embedder.dimension
            elif stored_model != embedder.model_id or (
                # Same name, same vectors: asking a lazy embedder its dimension would load
                # the model, which listing or removing articles does not need.
                _is_loaded(embedder) and stored_dim != embedder.dimension
            ):
                if not allow_model_change:
                    raise ModelMismatchError(
                        stored_model, stored_dim, embedder.model_id, embedder.dimension
                    )
                # The stored vectors are of the old model: nothing to search until
                # `reindex` has embedded them again.
                store.attach_vectors(embedder.dimension, stored_vectors_usable=False)
                return cls(config, embedder, store, data_dir)
            _record_backend(store, embedder)
            store.attach_vectors(stored_dim, stored_vectors_usable=True)
        except BaseException:
            store.close()
            raise
        return cls(config, embedder, store, data_dir)

    def _keyword_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="geobot-fts")
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ingesting --------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        on_progress: Callable[[int, int, Path], None] | None = None,
        follow_links: bool = False,
    ) -> IngestReport:
        """Parse and store every file under `paths`; a bad file is reported and skipped.

        `on_progress(done, total, path)` is called before each file is read. Symbolic
        links named in `paths` are followed only with `follow_links`; inside folders, only
        those pointing inside the folder are (see :func:`index.sources.files.find_input_files`).
        """
        # The file parsers (Markdown, HTML, JSON Lines...) load here, not at import: a
        # process that only searches never needs them.
        from index.sources.files import find_input_files, parse_file

        found = find_input_files(paths, follow_links=follow_links)
        failures: list[FailedInput] = list(found.skipped)
        files = found.files

        def articles() -> Iterator[ParsedArticle]:
            for done, path in enumerate(files):
                if on_progress is not None:
                    on_progress(done, len(files), path)
                try:
                    result = parse_file(
                        path,
                        max_file_bytes=self.config.ingest.max_file_bytes,
                        max_article_chars=self.config.ingest.max_article_chars,
                    )
                except BadInputError as exc:
                    failures.append(FailedInput(exc.source, exc.reason))
                    continue
                failures.extend(result.failures)
                yield from result.articles

        report = self.ingest_articles(articles())
        return IngestReport(
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            passages_embedded=report.passages_embedded,
            failed=tuple(failures) + report.failed,
        )

    def ingest_articles(self, articles: Iterable[ParsedArticle]) -> IngestReport:
        """Store parsed articles: new ones added, changed ones replaced, the rest untouched.

        Another process may store the same articles at the same time: each is stored once
        (what is stored is checked again inside the write transaction).
        """
        tally = WriteTally()
        failures: list[FailedInput] = []
        pending: dict[str, PreparedArticle] = {}
        pending_passages = 0
        changed = False
        for parsed in articles:
            try:
                prepared = self._preparer.prepare(parsed, self.store.find_article)
            except BadInputError as exc:
                failures.append(FailedInput(exc.source, exc.reason))
                continue
            if prepared is None:
                tally.unchanged += 1
                continue
            if prepared.key in pending:
                # The same article twice in one run: the later copy wins.
                pending_passages -= len(pending[prepared.key].chunks)
            pending[prepared.key] = prepared
            pending_passages += len(prepared.chunks)
            if pending_passages >= EMBED_BATCH_PASSAGES:
                tally.add(self._write(list(pending.values()), persist_index=False))
                changed = True
                pending.clear()
                pending_passages = 0
        if pending or changed:
            tally.add(self._write(list(pending.values()), persist_index=True))
        return IngestReport(
            added=tally.added,
            updated=tally.updated,
            unchanged=tally.unchanged,
            passages_embedded=tally.embedded,
            failed=tuple(failures),
        )

    def embedding_title(self, title: str) -> str:
        """`title` as embedded with each passage: capped, so it cannot crowd them out."""
        return self._preparer.embedding_title(title)

    def _write(
        self,
        batch: Sequence[PreparedArticle],
        *,
        persist_index: bool,
        update_index: bool = True,
        reconcile: bool = True,
    ) -> WriteTally:
        """Embed and store a batch in one write session; `persist_index` when it is the
        last of a run, `update_index` False when the caller rebuilds the index after.

        With `reconcile`, each article is checked against what is stored now, inside the
        session: another process may have stored or changed it since it was prepared.
        """
        vectors = self.embedder.embed_documents([t for p in batch for t in p.embed_texts])
        tally = WriteTally(embedded=len(vectors))
        bounds = np.cumsum([0] + [len(p.chunks) for p in batch])
        with self.store.writing(final=persist_index, bulk=not update_index) as session:
            # One look-up for the batch (its keys are distinct).
            stored = session.find_articles([p.key for p in batch]) if reconcile else {}
            for i, prepared in enumerate(batch):
                passage_vectors = vectors[bounds[i] : bounds[i + 1]]
                if reconcile:
                    current = stored.get(prepared.key)
                    if prepared.is_stored_as(current):
                        tally.unchanged += 1
                        continue
                    prepared, passage_vectors = self._preparer.reconciled(
                        prepared, passage_vectors, current, tally
                    )
                if prepared.existing_id is None:
                    tally.added += 1
                else:
                    tally.updated += 1
                new = (
                    [
                        NewPassage(n, c.start, c.end, c.sentences, passage_vectors[n])
                        for n, c in enumerate(prepared.chunks)
                    ]
                    if prepared.chunks
                    else None
                )
                session.store_article(article_record(prepared), new)
        return tally

    def remove(self, article_id: int) -> Article:
        """Delete an article, its passages, vectors and keyword entries."""
        found = self.store.articles([article_id]).get(article_id)
        if found is None:
            raise NotFoundError(f"no article with id {article_id}")
        self.store.delete_article(article_id)
        return found

    def reindex(self, *, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the vector index; re-chunk and re-embed everything if the model changed.

        Returns how many passages were embedded (0 when only the index was rebuilt).
        """
        same_model = (self.store.get_meta("model"), self.store.get_meta("dimension")) == (
            self.embedder.model_id,
            str(self.embedder.dimension),
        )
        embedded = 0
        if not same_model:
            self.store.prepare_reembedding(self.embedder.dimension)
            articles = self.store.list_articles()
            total = len(articles)
            for start in range(0, total, 64):
                batch = []
                for article in articles[start : start + 64]:
                    parsed = ParsedArticle(
                        title=article.title,
                        text=article.text,
                        source=article.source,
                        url=article.url,
                        outlet=article.outlet,
                        published=article.published,
                        country=article.country,
                        language=article.language,
                        author=article.author,
                    )
                    batch.append(
                        self._preparer.prepared(
                            parsed,
                            article.key,
                            article.id,
                            content_digest(parsed),
                            metadata_digest(parsed),
                        )
                    )
                # The index is rebuilt from scratch below: per-batch updates are wasted.
                embedded += self._write(
                    batch, persist_index=False, update_index=False, reconcile=False
                ).embedded
                if on_progress is not None:
                    on_progress(min(start + 64, total), total)
            self.store_model_meta()
        self.store.rebuild_vector_index()
        return embedded

    def store_model_meta(self) -> None:
        self.store.set_meta(
            {
                "model": self.embedder.model_id,
                "dimension": str(self.embedder.dimension),
                BACKENDS_META: embedding_backend(self.embedder),
            }
        )

    # -- reading ----------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        outlet: str | None = None,
        country: str | None = None,
        candidates: int | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """The best `k` passages for `query`, best first.

        `since`/`until`/`outlet`/`country` filter strictly; they are applied inside each search, so
        k hits come back whenever k passages match the filter. `query_vector` saves
        embedding the query again when the caller already has it.
        """
        settings = self.config.search
        k = k or settings.k
        mode = mode or settings.mode
        if not query.strip():
            raise QueryError("the query is empty")
        where = ArticleFilter(since=since, until=until, outlet=outlet, country=country)
        pool = max(candidates or settings.candidates, k)
        dense: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        if mode == "hybrid" and self.store.native_hybrid:
            vector = self.embedder.embed_query(query) if query_vector is None else query_vector
            fused = self.store.hybrid_search(query, vector, pool, where, settings)
            return self._hits(fused[:k], where)
        if mode == "hybrid":
            # FAISS and SQLite both release the GIL: the two searches overlap on two cores.
            keyword_future = self._keyword_pool().submit(self.keyword_search, query, pool, where)
            dense = self.dense_search(query, pool, where, query_vector=query_vector)
            keyword = keyword_future.result()
        elif mode == "dense":
            dense = self.dense_search(query, k, where, query_vector=query_vector)
        else:
            keyword = self.keyword_search(query, k, where)
        ranked: list[tuple[int, float, float | None, float | None]]
        if mode == "dense":
            ranked = [(pid, score, score, None) for pid, score in dense]
        elif mode == "keyword":
            ranked = [(pid, score, None, score) for pid, score in keyword]
        else:
            ranked = reciprocal_rank_fusion(
                dense,
                keyword,
                settings.rrf_k,
                weights=(settings.dense_weight, settings.keyword_weight),
            )
        ranked = ranked[:k]
        return self._hits(ranked, where)

    def dense_search(
        self,
        query: str,
        k: int,
        where: ArticleFilter,
        *,
        query_vector: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        vector = self.embedder.embed_query(query) if query_vector is None else query_vector
        return self.store.dense_search(vector, k, where)

    def keyword_search(self, query: str, k: int, where: ArticleFilter) -> list[tuple[int, float]]:
        return self.store.keyword_search(query, k, where, self.config.search)

    # The budget rule is also reachable here, where the tests have always called it.
    _required_terms = staticmethod(required_terms)

    def _hits(
        self,
        ranked: Sequence[tuple[int, float, float | None, float | None]],
        where: ArticleFilter,
    ) -> list[SearchHit]:
        passages, articles = self.store.passages_with_articles([pid for pid, *_ in ranked])
        hits: list[SearchHit] = []
        for pid, score, dense_score, keyword_score in ranked:
            passage = passages.get(pid)
            if passage is None:  # removed by another thread since the search
                continue
            article = articles.get(passage.article_id)
            if article is None or not where.admits(article):
                # The article changed since the search (its filter fields are copied onto
                # the passages in some backends, and a write may be in progress).
                continue
            hits.append(
                SearchHit(
                    passage=passage,
                    article=article,
                    score=score,
                    rank=len(hits) + 1,
                    dense_score=dense_score,
                    keyword_score=keyword_score,
                )
            )
        return hits

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.store.passage_vectors(ids)

    def passages_of(self, article_id: int) -> list[Passage]:
        return self.store.passages_of(article_id)

    def document_frequency(self, term: str, *, passage_count: int | None = None) -> int:
        """Passages containing `term`; with `passage_count`, gives a term's rarity. Pass
        the count when it was just read: on Milvus it is a request, which this saves."""
        return self.store.document_frequency(term, passage_count=passage_count)

    def passage_count(self) -> int:
        return self.store.passage_count()

    def article_count(self) -> int:
        return self.store.article_count()

    def get_article(self, article_id: int) -> Article:
        found = self.store.articles([article_id]).get(article_id)
        if found is None:
            raise NotFoundError(f"no article with id {article_id}")
        return found

    def find_articles(self, text: str, *, limit: int = 25) -> list[Article]:
        return self.store.find_articles(text, limit=limit)

    def article_titles(self) -> list[tuple[int, str, datetime | None]]:
        """Every article's id, title and date, newest first (no text)."""
        return self.store.article_titles()

    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        return self.store.list_articles(limit=limit, offset=offset)

    def stats(self) -> StoreStats:
        earliest, latest = self.store.date_span()
        return StoreStats(
            articles=self.store.article_count(),
            passages=self.store.passage_count(),
            vectors=self.store.vector_count(),
            earliest=earliest,
            latest=latest,
            outlets=tuple(self.store.outlet_counts()),
            model=self.store.get_meta("model") or self.embedder.model_id,
            dimension=int(self.store.get_meta("dimension") or self.embedder.dimension),
            index_factory=self.store.index_description(),
            data_dir=self.data_dir,
            disk_bytes=self.store.disk_bytes(),
        )


def article_record(prepared: PreparedArticle) -> ArticleRecord:
    """What the store writes for a prepared article."""
    parsed = prepared.parsed
    return ArticleRecord(
        existing_id=prepared.existing_id,
        key=prepared.key,
        title=parsed.title,
        text=parsed.text,
        url=parsed.url,
        outlet=parsed.outlet,
        published=parsed.published,
        country=parsed.country,
        language=parsed.language,
        author=parsed.author,
        source=parsed.source,
        content_hash=prepared.content_hash,
        metadata_hash=prepared.metadata_hash,
    )


def _is_loaded(embedder: Embedder) -> bool:
    return bool(getattr(embedder, "is_loaded", True))


def embedding_backend(embedder: Embedder) -> str:
    """What computes `embedder`'s vectors ("torch", "onnx-fp32", "onnx-int8"), if it says."""
    return str(getattr(embedder, "backend", "unknown"))


def _record_backend(store: StorageBackend, embedder: Embedder) -> None:
    """Record `embedder`'s backend beside the others of its model id (one vector family:
    torch and the fp32 export agree to float rounding). Older stores were built by torch."""
    recorded = (store.get_meta(BACKENDS_META) or "torch").split(",")
    backend = embedding_backend(embedder)
    if backend not in recorded:
        store.set_meta({BACKENDS_META: ",".join([*recorded, backend])})
