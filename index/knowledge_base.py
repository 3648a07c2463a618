"""The knowledge base: ingest articles, keep SQLite and FAISS in step, and search them.

This is the one object the layers above use. It is given its collaborators (the
configuration and an :class:`~index.embedding.embedder.Embedder`) rather than building them, so
tests run it with a small fake embedder and the real SQLite and FAISS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
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
    GeobotError,
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
from index.ranking import prune_common_terms, reciprocal_rank_fusion, required_terms
from index.sources.files import find_input_files, parse_file
from index.sources.outlets import OutletTable
from index.storage.keyword_query import match_expression, query_terms
from index.storage.sqlite_store import ArticleFilter, NewPassage, SQLiteStore
from index.storage.vector_sync import SyncedVectors

__all__ = ["KnowledgeBase", "SearchMode", "embedding_text"]


SearchMode = Literal["hybrid", "dense", "keyword"]
DB_NAME = "geobot.sqlite3"
INDEX_NAME = "vectors.faiss"
# Passages gathered before one embedding call: large enough that sentence-transformers'
# length sorting keeps padding low, small enough to bound memory and lost work.
EMBED_BATCH_PASSAGES = 1024


class KnowledgeBase:
    """Articles and passages in SQLite, their vectors in FAISS, searchable three ways."""

    def __init__(
        self,
        config: Config,
        embedder: Embedder,
        store: SQLiteStore,
        vectors: SyncedVectors,
        data_dir: Path,
    ) -> None:
        self.config = config
        self.embedder = embedder
        self.store = store
        self.data_dir = data_dir
        self._vectors = vectors
        # FAISS is not safe to search while it is being changed.
        self._index_lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
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
        store = SQLiteStore(data_dir / DB_NAME)
        try:
            stored_model = store.get_meta("model")
            stored_dim = int(store.get_meta("dimension") or 0)
            if stored_model is None or store.passage_count() == 0:
                store.set_meta("model", embedder.model_id)
                store.set_meta("dimension", str(embedder.dimension))
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
                empty = SyncedVectors.empty(
                    config.index, store, data_dir / INDEX_NAME, embedder.dimension
                )
                return cls(config, embedder, store, empty, data_dir)
            vectors = SyncedVectors.open(config.index, store, data_dir / INDEX_NAME, stored_dim)
        except BaseException:
            store.close()
            raise
        return cls(config, embedder, store, vectors, data_dir)

    def _keyword_pool(self) -> ThreadPoolExecutor:
        with self._index_lock:
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
        those pointing inside the folder are (see :func:`find_input_files`).
        """
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
        """Embed and store a batch in one transaction; optionally persist the index too.

        With `reconcile`, each article is checked against what is stored now, inside the
        transaction: another process may have stored or changed it since it was prepared.
        """
        vectors = self.embedder.embed_documents([t for p in batch for t in p.embed_texts])
        tally = WriteTally(embedded=len(vectors))
        bounds = np.cumsum([0] + [len(p.chunks) for p in batch])
        removed: list[int] = []
        added_ids: list[int] = []
        added_vectors: list[np.ndarray] = [np.zeros((0, self._vectors.dimension), np.float32)]
        with self._index_lock:
            try:
                with self.store.transaction() as stamp:
                    if update_index:
                        self._vectors.catch_up(stamp.previous)
                    for i, prepared in enumerate(batch):
                        passage_vectors = vectors[bounds[i] : bounds[i + 1]]
                        if reconcile:
                            current = self.store.find_article(prepared.key)
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
                        article_id = self._store_article(prepared)
                        if not prepared.chunks:
                            continue
                        if prepared.existing_id is not None:
                            removed.extend(self.store.delete_passages(article_id))
                        new = [
                            NewPassage(n, c.start, c.end, c.sentences, passage_vectors[n])
                            for n, c in enumerate(prepared.chunks)
                        ]
                        parsed = prepared.parsed
                        added_ids.extend(
                            self.store.insert_passages(article_id, parsed.title, parsed.text, new)
                        )
                        added_vectors.append(passage_vectors)
                    if update_index:
                        self._vectors.apply(removed, added_ids, np.vstack(added_vectors))
                    if persist_index:
                        self._vectors.save(stamp.generation, self.embedder.model_id)
                if update_index:
                    self._vectors.committed(stamp.generation)
            except BaseException:
                # SQLite rolled back; the in-memory index may hold part of the batch.
                self._recover_vectors()
                raise
        return tally

    def _store_article(self, prepared: PreparedArticle) -> int:
        parsed = prepared.parsed
        return self.store.upsert_article(
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

    def _recover_vectors(self) -> None:
        """After a failed write: the in-memory index again as committed."""
        try:
            self._vectors.rebuild(in_transaction=False)
        except GeobotError:
            # The store cannot be read either (damaged?): rebuild at the next chance.
            self._vectors.generation = None

    def remove(self, article_id: int) -> Article:
        """Delete an article, its passages, vectors and keyword entries."""
        found = self.store.articles([article_id]).get(article_id)
        if found is None:
            raise NotFoundError(f"no article with id {article_id}")
        with self._index_lock:
            try:
                with self.store.transaction() as stamp:
                    self._vectors.catch_up(stamp.previous)
                    removed = self.store.delete_article(article_id)
                    no_vectors = np.zeros((0, self._vectors.dimension), dtype=np.float32)
                    self._vectors.apply(removed, [], no_vectors)
                    self._vectors.save(stamp.generation, self.embedder.model_id)
                self._vectors.committed(stamp.generation)
            except BaseException:
                self._recover_vectors()
                raise
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
        with self._index_lock:
            self._vectors = SyncedVectors(
                self.config.index,
                self.store,
                self.data_dir / INDEX_NAME,
                self.embedder.dimension,
                self._vectors.index,
                None,
            )
            # Built inside the transaction: no other process's write can slip in between.
            with self.store.transaction() as stamp:
                self._vectors.rebuild(in_transaction=True)
                self._vectors.save(stamp.generation, self.embedder.model_id)
            self._vectors.committed(stamp.generation)
        return embedded

    def store_model_meta(self) -> None:
        with self.store.transaction():
            self.store.set_meta("model", self.embedder.model_id)
            self.store.set_meta("dimension", str(self.embedder.dimension))

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
        return self._hits(ranked)

    def dense_search(
        self,
        query: str,
        k: int,
        where: ArticleFilter,
        *,
        query_vector: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        vector = self.embedder.embed_query(query) if query_vector is None else query_vector
        allowed = self.store.filtered_passage_ids(where) if where.active else None
        with self._index_lock:
            # Another process may have written (and saved its index) since.
            self._vectors.refresh()
            return self._vectors.index.search(vector, k, allowed=allowed)

    def keyword_search(self, query: str, k: int, where: ArticleFilter) -> list[tuple[int, float]]:
        settings = self.config.search
        terms = query_terms(query)
        required: str | None = None
        if len(terms) > 2 and (settings.common_term_passages or settings.scored_postings):
            terms, required = prune_common_terms(
                terms,
                self.store.term_frequencies(terms),
                common_term_passages=settings.common_term_passages,
                scored_postings=settings.scored_postings,
            )
        match = match_expression(terms)
        if match is None:
            return []
        return self.store.keyword_search(
            match, k, where, title_weight=settings.title_weight, required=required
        )

    # The budget rule is also reachable here, where the tests have always called it.
    _required_terms = staticmethod(required_terms)

    def _hits(
        self, ranked: Sequence[tuple[int, float, float | None, float | None]]
    ) -> list[SearchHit]:
        passages = self.store.passages([pid for pid, *_ in ranked])
        articles = self.store.articles(sorted({p.article_id for p in passages.values()}))
        hits: list[SearchHit] = []
        for pid, score, dense_score, keyword_score in ranked:
            passage = passages.get(pid)
            if passage is None:  # removed by another thread since the search
                continue
            hits.append(
                SearchHit(
                    passage=passage,
                    article=articles[passage.article_id],
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

    def document_frequency(self, term: str) -> int:
        """Passages containing `term`; with `passage_count`, gives a term's rarity."""
        return self.store.document_frequency(term)

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
        with self._index_lock:
            self._vectors.refresh()
            vector_count, factory = len(self._vectors.index), self._vectors.index.factory
        earliest, latest = self.store.date_span()
        disk = sum(
            p.stat().st_size
            for p in self.data_dir.iterdir()
            if p.is_file() and (p.name.startswith(DB_NAME) or p.name == INDEX_NAME)
        )
        return StoreStats(
            articles=self.store.article_count(),
            passages=self.store.passage_count(),
            vectors=vector_count,
            earliest=earliest,
            latest=latest,
            outlets=tuple(self.store.outlet_counts()),
            model=self.store.get_meta("model") or self.embedder.model_id,
            dimension=int(self.store.get_meta("dimension") or self.embedder.dimension),
            index_factory=factory,
            data_dir=self.data_dir,
            disk_bytes=disk,
        )


def _is_loaded(embedder: Embedder) -> bool:
    return bool(getattr(embedder, "is_loaded", True))
