"""The knowledge base: ingest articles, keep SQLite and FAISS in step, and search them.

This is the one object the layers above use. It is given its collaborators (the
configuration and an :class:`~index.embedding.embedder.Embedder`) rather than building them, so
tests run it with a small fake embedder and the real SQLite and FAISS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from index.article_identity import article_key, content_digest, metadata_digest
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
from index.passages.chunking import Chunk, chunk_sentences
from index.passages.sentences import split_sentences
from index.ranking import prune_common_terms, reciprocal_rank_fusion, required_terms
from index.sources.files import iter_input_paths, parse_file
from index.sources.outlets import OutletTable
from index.storage.faiss_index import VectorIndex
from index.storage.keyword_query import match_expression, query_terms
from index.storage.sqlite_store import ArticleFilter, NewPassage, SQLiteStore
from index.storage.vector_sync import build_vectors, load_vectors

__all__ = ["KnowledgeBase", "SearchMode", "embedding_text"]


SearchMode = Literal["hybrid", "dense", "keyword"]
DB_NAME = "geobot.sqlite3"
INDEX_NAME = "vectors.faiss"
# Passages gathered before one embedding call: large enough that sentence-transformers'
# length sorting keeps padding low, small enough to bound memory and lost work.
EMBED_BATCH_PASSAGES = 1024
TITLE_TOKEN_CAP = 32


@dataclass
class _Prepared:
    """An article parsed and chunked, waiting for its vectors."""

    parsed: ParsedArticle
    key: str
    existing_id: int | None
    content_hash: str
    metadata_hash: str
    chunks: list[Chunk]
    embed_texts: list[str] = field(default_factory=list)


def embedding_text(title: str, passage: str, *, include_title: bool) -> str:
    """The text embedded for a passage: the title gives a passage its topic."""
    return f"{title}\n{passage}" if include_title and title else passage


class KnowledgeBase:
    """Articles and passages in SQLite, their vectors in FAISS, searchable three ways."""

    def __init__(
        self,
        config: Config,
        embedder: Embedder,
        store: SQLiteStore,
        vectors: VectorIndex,
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
        `allow_model_change` (what `reindex` uses). A vector index file that is missing,
        unreadable or out of step with SQLite is rebuilt from the stored vectors.
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
                empty = VectorIndex(embedder.dimension, config.index.factory)
                return cls(config, embedder, store, empty, data_dir)
            vectors = load_vectors(config.index, store, data_dir / INDEX_NAME, stored_dim)
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
    ) -> IngestReport:
        """Parse and store every file under `paths`; a bad file is reported and skipped.

        `on_progress(done, total, path)` is called before each file is read.
        """
        failures: list[FailedInput] = []
        files: list[Path] = []
        for given in paths:
            try:
                # One given path at a time: a missing one must not hide the rest.
                files.extend(iter_input_paths([given]))
            except BadInputError as exc:
                failures.append(FailedInput(exc.source, exc.reason))

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
        """Store parsed articles: new ones added, changed ones replaced, the rest untouched."""
        counts = {"added": 0, "updated": 0, "unchanged": 0, "embedded": 0}
        failures: list[FailedInput] = []
        pending: dict[str, _Prepared] = {}
        pending_passages = 0
        changed = False
        for parsed in articles:
            try:
                prepared = self._prepare(parsed)
            except BadInputError as exc:
                failures.append(FailedInput(exc.source, exc.reason))
                continue
            if prepared is None:
                counts["unchanged"] += 1
                continue
            if prepared.key in pending:
                # The same article twice in one run: the later copy wins.
                pending_passages -= len(pending[prepared.key].chunks)
                counts["added" if pending[prepared.key].existing_id is None else "updated"] -= 1
            pending[prepared.key] = prepared
            pending_passages += len(prepared.chunks)
            counts["added" if prepared.existing_id is None else "updated"] += 1
            if pending_passages >= EMBED_BATCH_PASSAGES:
                counts["embedded"] += self._write(list(pending.values()), persist_index=False)
                changed = True
                pending.clear()
                pending_passages = 0
        if pending or changed:
            counts["embedded"] += self._write(list(pending.values()), persist_index=True)
        return IngestReport(
            added=counts["added"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            passages_embedded=counts["embedded"],
            failed=tuple(failures),
        )

    def _prepare(self, parsed: ParsedArticle) -> _Prepared | None:
        if not parsed.text.strip():
            raise BadInputError(parsed.source, "no article text")
        parsed = self.outlets.complete(parsed)
        key = article_key(parsed)
        content_hash = content_digest(parsed)
        metadata_hash = metadata_digest(parsed)
        existing = self.store.find_article(key)
        if existing is not None and existing.content_hash == content_hash:
            if existing.metadata_hash == metadata_hash:
                return None
            # Only the metadata changed: no need to embed again.
            return _Prepared(parsed, key, existing.id, content_hash, metadata_hash, chunks=[])
        return self._chunked(
            parsed, key, existing.id if existing else None, content_hash, metadata_hash
        )

    def _chunked(
        self,
        parsed: ParsedArticle,
        key: str,
        existing_id: int | None,
        content_hash: str,
        metadata_hash: str,
    ) -> _Prepared:
        """The article split into passages, with the texts to embed for them."""
        chunks = self._chunk(parsed.title, parsed.text)
        if not chunks:
            raise BadInputError(parsed.source, "no sentences found in the article text")
        title = self.embedding_title(parsed.title)
        include_title = self.config.chunking.include_title
        texts = [
            embedding_text(title, parsed.text[c.start : c.end], include_title=include_title)
            for c in chunks
        ]
        return _Prepared(parsed, key, existing_id, content_hash, metadata_hash, chunks, texts)

    def embedding_title(self, title: str) -> str:
        # The title rides along with every passage; cap it so it cannot crowd them out.
        spans = self.embedder.token_spans(title)
        return title if len(spans) <= TITLE_TOKEN_CAP else title[: spans[TITLE_TOKEN_CAP - 1][1]]

    def _chunk(self, title: str, text: str) -> list[Chunk]:
        settings = self.config.chunking
        window = settings.max_tokens or self.embedder.max_tokens
        window = min(window, self.embedder.max_tokens)
        reserved = self.embedder.special_tokens
        if settings.include_title and title:
            # +1 for the line break between title and passage, which some tokenizers keep.
            reserved += len(self.embedder.token_spans(self.embedding_title(title))) + 1
        return chunk_sentences(
            text,
            split_sentences(text),
            count_tokens=self.embedder.count_tokens,
            token_spans=self.embedder.token_spans,
            budget=max(window - reserved, 16),
            target=settings.target_tokens,
            overlap=settings.overlap_sentences,
        )

    def _write(
        self, batch: Sequence[_Prepared], *, persist_index: bool, update_index: bool = True
    ) -> int:
        """Embed and store a batch in one transaction; optionally persist the index too."""
        texts = [t for p in batch for t in p.embed_texts]
        vectors = self.embedder.embed_documents(texts)
        offset = 0
        removed: list[int] = []
        added_ids: list[int] = []
        with self._index_lock:
            try:
                with self.store.transaction() as generation:
                    for prepared in batch:
                        parsed = prepared.parsed
                        article_id = self.store.upsert_article(
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
                        if not prepared.chunks:
                            continue
                        if prepared.existing_id is not None:
                            removed.extend(self.store.delete_passages(article_id))
                        new = [
                            NewPassage(i, c.start, c.end, c.sentences, vectors[offset + i])
                            for i, c in enumerate(prepared.chunks)
                        ]
                        offset += len(new)
                        added_ids.extend(
                            self.store.insert_passages(article_id, parsed.title, parsed.text, new)
                        )
                    if update_index:
                        self._apply_to_index(removed, added_ids, vectors)
                    if persist_index:
                        self._save_index(generation)
            except BaseException:
                # SQLite rolled back; the in-memory index may hold part of the batch.
                self._vectors = build_vectors(
                    self.config.index, self.store, self._vectors.dimension
                )
                raise
        return len(texts)

    def _apply_to_index(
        self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray
    ) -> None:
        needs_rebuild = (removed and not self._vectors.supports_removal) or (
            self._vectors.needs_rebuild_to_add
        )
        if needs_rebuild:
            # The rows are written but not committed; the writer connection sees them.
            self._vectors = build_vectors(
                self.config.index, self.store, self._vectors.dimension, in_transaction=True
            )
            return
        self._vectors.remove(removed)
        self._vectors.add(np.asarray(added, dtype=np.int64), vectors[: len(added)])

    def _save_index(self, generation: str) -> None:
        self._vectors.save(
            self.data_dir / INDEX_NAME, generation=generation, model_id=self.embedder.model_id
        )

    def remove(self, article_id: int) -> Article:
        """Delete an article, its passages, vectors and keyword entries."""
        found = self.store.articles([article_id]).get(article_id)
        if found is None:
            raise NotFoundError(f"no article with id {article_id}")
        with self._index_lock:
            try:
                with self.store.transaction() as generation:
                    removed = self.store.delete_article(article_id)
                    self._apply_to_index(removed, [], np.zeros((0, 1), dtype=np.float32))
                    self._save_index(generation)
            except BaseException:
                self._vectors = build_vectors(
                    self.config.index, self.store, self._vectors.dimension
                )
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
                        self._chunked(
                            parsed,
                            article.key,
                            article.id,
                            content_digest(parsed),
                            metadata_digest(parsed),
                        )
                    )
                # The index is rebuilt from scratch below: per-batch updates are wasted.
                embedded += self._write(batch, persist_index=False, update_index=False)
                if on_progress is not None:
                    on_progress(min(start + 64, total), total)
            self.store_model_meta()
        with self._index_lock:
            self._vectors = build_vectors(self.config.index, self.store, self.embedder.dimension)
            with self.store.transaction() as generation:
                self._save_index(generation)
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
            return self._vectors.search(vector, k, allowed=allowed)

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

    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        return self.store.list_articles(limit=limit, offset=offset)

    def stats(self) -> StoreStats:
        earliest, latest = self.store.date_span()
        disk = sum(
            p.stat().st_size
            for p in self.data_dir.iterdir()
            if p.is_file() and (p.name.startswith(DB_NAME) or p.name == INDEX_NAME)
        )
        return StoreStats(
            articles=self.store.article_count(),
            passages=self.store.passage_count(),
            vectors=len(self._vectors),
            earliest=earliest,
            latest=latest,
            outlets=tuple(self.store.outlet_counts()),
            model=self.store.get_meta("model") or self.embedder.model_id,
            dimension=int(self.store.get_meta("dimension") or self.embedder.dimension),
            index_factory=self._vectors.factory,
            data_dir=self.data_dir,
            disk_bytes=disk,
        )


def _is_loaded(embedder: Embedder) -> bool:
    return bool(getattr(embedder, "is_loaded", True))
