"""Keeping the FAISS index in step with SQLite, which holds every vector and is the truth.

The index file records the store generation it was saved at; on opening, a file that is
missing, unreadable or out of step with the database is rebuilt from the stored vectors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from index.config import VectorIndexConfig
from index.errors import StoreError
from index.storage.faiss_index import VectorIndex
from index.storage.sqlite_store import SQLiteStore

__all__ = ["build_vectors", "load_vectors"]

log = logging.getLogger(__name__)


def load_vectors(
    settings: VectorIndexConfig, store: SQLiteStore, path: Path, dimension: int
) -> VectorIndex:
    """The vector index saved at `path` when it matches `store`; else one rebuilt from the
    stored vectors (and saved), with a warning that says why.

    A match means the same store generation, as many vectors as passages, the same
    dimension and the configured FAISS factory.
    """
    reason: str | None = None
    if path.exists():
        try:
            vectors, header = VectorIndex.load(
                path,
                hnsw_ef_search=settings.hnsw_ef_search,
                ivf_nprobe=settings.ivf_nprobe,
                search_threads=settings.search_threads,
            )
        except StoreError as exc:
            reason = str(exc)
        else:
            count = store.passage_count()
            if header.get("generation") != store.generation:
                reason = "it does not match the database (an interrupted write?)"
            elif len(vectors) != count:
                reason = f"it holds {len(vectors)} vectors for {count} passages"
            elif vectors.dimension != dimension:
                reason = f"its dimension is {vectors.dimension}, not {dimension}"
            elif header.get("factory") != settings.factory:
                reason = f"the configured index is now {settings.factory!r}"
            else:
                return vectors
    elif store.passage_count():
        reason = "the file is missing"
    if reason is not None:
        log.warning("rebuilding vector index %s from stored vectors: %s", path, reason)
    vectors = build_vectors(settings, store, dimension)
    with store.transaction() as generation:
        vectors.save(path, generation=generation, model_id=store.get_meta("model") or "")
    return vectors


def build_vectors(
    settings: VectorIndexConfig,
    store: SQLiteStore,
    dimension: int,
    *,
    in_transaction: bool = False,
) -> VectorIndex:
    """A new vector index of every vector in `store`; `in_transaction` reads rows the
    writer has not committed yet."""
    batches = list(store.iter_vectors(in_transaction=in_transaction))
    ids = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, dtype=np.int64)
    matrix = (
        np.vstack([b[1] for b in batches])
        if batches
        else np.zeros((0, dimension), dtype=np.float32)
    )
    return VectorIndex.build(
        dimension,
        settings.factory,
        ids,
        matrix,
        hnsw_ef_search=settings.hnsw_ef_search,
        ivf_nprobe=settings.ivf_nprobe,
        search_threads=settings.search_threads,
    )
