"""Keeping a process's FAISS index in step with SQLite, which holds every vector.

Each process that opens a data folder keeps the vector index in memory, with the store
generation it reflects; the file on disk holds the index of some generation too. Several
processes may share the folder (the Discord bot and a `geobot ingest`, say), so:

- on opening, the file is used when it is of the store's current generation, holds as
  many vectors as there are passages and its checksum holds; otherwise the index is
  rebuilt from the stored vectors (with one warning that says why) and saved;
- inside a write transaction, before changing the index, a process whose index is of an
  older generation than the one it is replacing (another process wrote since) first
  catches up: from the file that process saved, or from the stored vectors;
- before a search, a process that sees a newer generation loads the file saved with it
  (a writer saves its index when it ends); until then it searches the index it has.

No process writes the index file without holding SQLite's write lock, so under that lock
a temporary file left beside it can only be a leftover of a killed process.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.config import VectorIndexConfig
from index.errors import DamagedStoreError, StoreError
from index.storage.faiss_index import VectorIndex
from index.storage.sqlite_store import SQLiteStore

__all__ = ["SyncedVectors", "build_vectors", "temporary_files"]

log = logging.getLogger(__name__)


class SyncedVectors:
    """The vector index of one process: the FAISS index, the store generation it
    reflects, and the file it is saved to. The caller serialises calls (one lock)."""

    def __init__(
        self,
        settings: VectorIndexConfig,
        store: SQLiteStore,
        path: Path,
        dimension: int,
        index: VectorIndex,
        generation: str | None,
        *,
        follow_store: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.path = path
        self.dimension = dimension
        self.index = index
        self.generation = generation
        # False for an index that must not be replaced by the stored vectors (those of
        # another model, before `reindex`).
        self.follow_store = follow_store

    @classmethod
    def open(
        cls, settings: VectorIndexConfig, store: SQLiteStore, path: Path, dimension: int
    ) -> SyncedVectors:
        """The saved index when it matches the store, else one rebuilt (and saved)."""
        remove_leftovers(store, path)
        synced = cls(settings, store, path, dimension, VectorIndex(dimension, "Flat"), None)
        synced.reload()
        return synced

    @classmethod
    def empty(
        cls, settings: VectorIndexConfig, store: SQLiteStore, path: Path, dimension: int
    ) -> SyncedVectors:
        """An empty index that ignores the store (whose vectors are of another model)."""
        index = VectorIndex(dimension, settings.factory)
        return cls(settings, store, path, dimension, index, None, follow_store=False)

    # -- following the store ------------------------------------------------------------

    def reload(self, *, save: bool = True) -> None:
        """Take the store's committed state: from the file when it matches, else rebuilt
        from the stored vectors (and, with `save`, saved for the next process)."""
        with self.store.snapshot():
            generation = self.store.generation
            index, reason = self._matching_file(generation, in_transaction=False)
            if index is None:
                index = build_vectors(self.settings, self.store, self.dimension)
        if reason is not None:
            log.warning("rebuilding vector index %s from stored vectors: %s", self.path, reason)
        self.index, self.generation = index, generation
        if reason is not None and save:
            self._save_if_current(generation)

    def refresh(self) -> None:
        """Before a search: take another process's newer index once it has saved it."""
        if not self.follow_store:
            return
        current = self.store.generation
        if current == self.generation:
            return
        header = VectorIndex.read_header(self.path)
        if header is not None and header.get("generation") == current:
            self.reload()

    def catch_up(self, previous: str) -> None:
        """Inside a write transaction that replaces generation `previous`: make the index
        that of `previous`, if another process has written since this one's."""
        if not self.follow_store or previous == self.generation:
            return
        index, reason = self._matching_file(previous, in_transaction=True)
        if index is None:
            log.debug("vector index behind the store (%s): rebuilding it", reason)
            index = build_vectors(self.settings, self.store, self.dimension, in_transaction=True)
        self.index, self.generation = index, previous

    def _matching_file(
        self, generation: str, *, in_transaction: bool
    ) -> tuple[VectorIndex | None, str | None]:
        """The saved index when it is that of `generation` and matches the store as the
        caller's transaction or snapshot sees it; else None and why not (None when there
        is nothing to rebuild: no file and no passages)."""
        count = self.store.passage_count(in_transaction=in_transaction)
        if not (self.path.exists() or self.path.is_symlink()):
            return None, ("the file is missing" if count else None)
        try:
            index, header = VectorIndex.load(
                self.path,
                hnsw_ef_search=self.settings.hnsw_ef_search,
                ivf_nprobe=self.settings.ivf_nprobe,
                search_threads=self.settings.search_threads,
            )
        except StoreError as exc:
            return None, str(exc)
        if header.get("generation") != generation:
            return None, "it does not match the database (an interrupted write?)"
        if len(index) != count:
            return None, f"it holds {len(index)} vectors for {count} passages"
        if index.dimension != self.dimension:
            return None, f"its dimension is {index.dimension}, not {self.dimension}"
        if header.get("factory") != self.settings.factory:
            return None, f"the configured index is now {self.settings.factory!r}"
        return index, None

    def _save_if_current(self, generation: str) -> None:
        """Save the index unless another process has written since `generation` (its
        own save is then the current one)."""
        try:
            with self.store.write():
                if self.store.generation_in_transaction() == generation:
                    model = self.store.get_meta("model", in_transaction=True) or ""
                    self.index.save(self.path, generation=generation, model_id=model)
        except DamagedStoreError:
            raise
        except StoreError as exc:
            # A read-only folder, a full disk: searching still works from memory.
            log.warning("cannot save the rebuilt vector index: %s", exc)

    # -- writing ------------------------------------------------------------------------

    def apply(
        self,
        removed: Sequence[int],
        added: Sequence[int],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Inside a write transaction: remove and add passages' vectors (`vectors` in the
        order of `added`); rebuilt from the uncommitted rows when the index type cannot."""
        index = self.index
        if (removed and not index.supports_removal) or index.needs_rebuild_to_add:
            self.rebuild(in_transaction=True)
            return
        index.remove(removed)
        index.add(np.asarray(added, dtype=np.int64), vectors)

    def rebuild(self, *, in_transaction: bool) -> None:
        """Rebuilt from the stored vectors: as the write transaction in progress sees
        them, or as committed (then the index is of the committed generation)."""
        if in_transaction:
            self.index = build_vectors(
                self.settings, self.store, self.dimension, in_transaction=True
            )
            return
        with self.store.snapshot():
            self.generation = self.store.generation
            self.index = build_vectors(self.settings, self.store, self.dimension)

    def save(self, generation: str, model_id: str) -> None:
        """Inside the write transaction that stamped `generation`: write the index file."""
        self.index.save(self.path, generation=generation, model_id=model_id)

    def committed(self, generation: str) -> None:
        """After the commit of `generation`: the index reflects it."""
        self.generation = generation


def temporary_files(path: Path) -> list[Path]:
    """The temporary files of writes of the index file at `path` (live or left over)."""
    return sorted(path.parent.glob(f"{path.name}*.tmp"))


def remove_leftovers(store: SQLiteStore, path: Path) -> None:
    """Delete temporary index files left by a killed process. Under the write lock no
    other process is writing one, so every one found is a leftover."""
    if not temporary_files(path):
        return
    try:
        with store.write():
            for leftover in temporary_files(path):
                leftover.unlink(missing_ok=True)
                log.info("removed %s, left by an interrupted write", leftover)
    except DamagedStoreError:
        raise
    except (StoreError, OSError) as exc:
        log.info("cannot remove leftover temporary files of %s: %s", path, exc)


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
