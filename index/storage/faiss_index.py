"""The FAISS vector index: passage ids to unit vectors, searched by inner product.

SQLite holds every vector and is the source of truth; this index is a fast copy of them
that can always be rebuilt. The file on disk carries the store generation it reflects, so
the knowledge base can tell a stale or foreign file from a current one, and a checksum of
the FAISS bytes, so that damage inside them is found rather than searched. Which FAISS index
is built comes from a factory string in the configuration:

- ``Flat``: exact search. Right up to a few hundred thousand passages.
- ``HNSW32``: a graph index; much faster on millions of passages, approximate, more
  memory, and it cannot delete, so removals rebuild it.
- ``SQfp16`` (default): the same exact scan on vectors stored as 16-bit floats: half the
  memory, and about twice as fast, because one search reads half as many bytes; scores
  differ from Flat's by ~1e-3.
- ``IVF1024,Flat`` (or ``IVF4096,PQ32`` to save memory): clusters trained on the
  vectors; needs ~40 vectors per cluster to train, approximate, tuned by ``ivf_nprobe``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from index.errors import StoreError

__all__ = ["VectorIndex"]

log = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

# 2: the header holds a sha256 checksum of the FAISS bytes after it.
_FORMAT = 2
# The header fields every file must have, with their types.
_HEADER_FIELDS: dict[str, type] = {
    "format": int,
    "generation": str,
    "model": str,
    "dimension": int,
    "factory": str,
    "count": int,
    "checksum": str,
}
# A header line longer than this is not one of ours (and is not read whole into memory).
_MAX_HEADER_BYTES = 4096


class VectorIndex:
    """A FAISS index of passage vectors keyed by passage id."""

    def __init__(
        self,
        dimension: int,
        factory: str = "SQfp16",
        *,
        hnsw_ef_search: int = 128,
        ivf_nprobe: int = 16,
        search_threads: int = 1,
        index: Any = None,
    ) -> None:
        self.dimension = dimension
        self.factory = factory
        self._hnsw_ef_search = hnsw_ef_search
        self._ivf_nprobe = ivf_nprobe
        self._search_threads = search_threads
        # FAISS's SWIG objects are typed loosely; treat them as Any at this boundary.
        self._index: Any = index if index is not None else self._new_index(factory)

    # -- building ---------------------------------------------------------------------

    def _new_index(self, factory: str) -> Any:
        try:
            inner = faiss.index_factory(self.dimension, factory, faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as exc:
            raise StoreError(f"invalid FAISS factory string {factory!r}: {exc}") from None
        return faiss.IndexIDMap2(inner)

    @classmethod
    def build(
        cls,
        dimension: int,
        factory: str,
        ids: Ids,
        vectors: Vectors,
        *,
        hnsw_ef_search: int = 128,
        ivf_nprobe: int = 16,
        search_threads: int = 1,
    ) -> VectorIndex:
        """A new index holding `vectors`, trained on them when the factory needs it."""
        index = cls(
            dimension,
            factory,
            hnsw_ef_search=hnsw_ef_search,
            ivf_nprobe=ivf_nprobe,
            search_threads=search_threads,
        )
        if not index._index.is_trained:
            try:
                index._index.train(vectors)
            except RuntimeError as exc:
                # Too few vectors to train clusters: exact search is right at that size.
                log.warning(
                    "cannot train FAISS index %r on %d vectors (%s); using exact search",
                    factory,
                    len(vectors),
                    str(exc).splitlines()[0],
                )
                index = cls(dimension, "Flat", search_threads=search_threads)
        index.add(ids, vectors)
        return index

    @property
    def needs_rebuild_to_add(self) -> bool:
        return not self._index.is_trained

    @property
    def supports_removal(self) -> bool:
        return "HNSW" not in self.factory.upper()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> Ids:
        """The passage ids the index holds, in the order it holds them."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dimension):
            raise StoreError(
                f"vector shape {vectors.shape} does not match {len(ids)} ids "
                f"of dimension {self.dimension}"
            )
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: Sequence[int] | Ids) -> int:
        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    # -- searching --------------------------------------------------------------------

    def search(
        self, query: Vectors, k: int, *, allowed: Ids | None = None
    ) -> list[tuple[int, float]]:
        """The `k` nearest passage ids with their inner products, best first.

        With `allowed`, only those ids are candidates. The selector is applied inside the
        search (not by filtering afterwards), so k results come back when k exist.
        """
        if k <= 0 or len(self) == 0:
            return []
        if allowed is not None and len(allowed) == 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        k = min(k, len(self) if allowed is None else min(len(allowed), len(self)))
        params = self._search_params(allowed)
        # OpenMP's thread count is per calling thread: set it for this search only. With
        # one query, extra threads mostly spin (and fight the keyword search beside it).
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self._search_threads)
        try:
            scores, ids = self._index.search(query, k, params=params)
        finally:
            faiss.omp_set_num_threads(previous)
        results = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        if allowed is not None and len(results) < k and len(allowed) <= 50_000:
            # Approximate indexes can miss some of a small allowed set: score them exactly.
            results = self._exact(query, k, allowed)
        return results

    def _search_params(self, allowed: Ids | None) -> Any:
        selector = (
            faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if allowed is not None
            else None
        )
        inner = faiss.downcast_index(self._index.index)
        params: Any
        if isinstance(inner, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = self._hnsw_ef_search
        elif isinstance(inner, faiss.IndexIVF):
            params = faiss.SearchParametersIVF()
            params.nprobe = self._ivf_nprobe
        elif selector is None:
            return None
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
            # FAISS keeps only a raw pointer: keep the selector alive with the params.
            params._geobot_selector = selector
        return params

    def _exact(self, query: Vectors, k: int, allowed: Ids) -> list[tuple[int, float]]:
        present = [int(i) for i in allowed if self._contains(int(i))]
        if not present:
            return []
        vectors = np.vstack([self._index.reconstruct(i) for i in present])
        scores = vectors @ query[0]
        order = np.argsort(-scores)[:k]
        return [(present[i], float(scores[i])) for i in order]

    def _contains(self, passage_id: int) -> bool:
        try:
            self._index.reconstruct(passage_id)
        except RuntimeError:
            return False
        return True

    # -- persistence ------------------------------------------------------------------

    def save(self, path: Path, *, generation: str, model_id: str) -> None:
        """Write the index and its header atomically: a reader sees the old or the new.

        Raises StoreError when the file cannot be written. A folder where the file goes
        (nothing geobot writes) is moved aside, or removed when empty.
        """
        # The generation goes inside the same file as the vectors (a header line before
        # FAISS's bytes), so the two can never be renamed into place separately.
        data = faiss.serialize_index(self._index).tobytes()
        meta = {
            "format": _FORMAT,
            "generation": generation,
            "model": model_id,
            "dimension": self.dimension,
            "factory": self.factory,
            "count": len(self),
            "checksum": _checksum(data),
        }
        header = (json.dumps(meta) + "\n").encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _clear_folder_in_the_way(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        except OSError as exc:
            raise StoreError(f"cannot write vector index {path}: {exc}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"cannot write vector index {path}: {exc}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        hnsw_ef_search: int = 128,
        ivf_nprobe: int = 16,
        search_threads: int = 1,
    ) -> tuple[VectorIndex, dict[str, object]]:
        """The index in `path` and its header; StoreError when it is unreadable, is not
        an index file of this geobot, or its bytes do not match their checksum."""
        try:
            with path.open("rb") as handle:
                header = _parse_header(handle.readline(_MAX_HEADER_BYTES))
                data = handle.read()
            if _checksum(data) != header["checksum"]:
                raise ValueError("its checksum does not match: the file is damaged")
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(f"cannot read vector index {path}: {exc}") from None
        vector_index = cls(
            int(str(header["dimension"])),
            str(header["factory"]),
            hnsw_ef_search=hnsw_ef_search,
            ivf_nprobe=ivf_nprobe,
            search_threads=search_threads,
            index=index,
        )
        if len(vector_index) != header["count"] or vector_index.dimension != index.d:
            raise StoreError(f"cannot read vector index {path}: its header does not match it")
        return vector_index, header

    @staticmethod
    def read_header(path: Path) -> dict[str, object] | None:
        """The header of the index file at `path` (cheap: the vectors are not read); None
        when there is no readable index file there."""
        try:
            with path.open("rb") as handle:
                return _parse_header(handle.readline(_MAX_HEADER_BYTES))
        except (OSError, ValueError, RecursionError):
            return None


def _checksum(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _parse_header(line: bytes) -> dict[str, object]:
    """The JSON header line of an index file; ValueError unless it is one of ours."""
    if not line.endswith(b"\n"):
        raise ValueError("it is not a geobot vector index (no header line)")
    header = json.loads(line)  # a ValueError (JSONDecodeError, UnicodeDecodeError) if not JSON
    if not isinstance(header, dict):
        raise ValueError("it is not a geobot vector index (bad header)")
    version = header.get("format")
    if isinstance(version, int) and version < _FORMAT:
        raise ValueError(f"it was written by an older geobot (format {version})")
    if version != _FORMAT:
        raise ValueError(f"unknown format {version!r}")
    for name, kind in _HEADER_FIELDS.items():
        value = header.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"its header has no valid {name!r}")
    return header


def _clear_folder_in_the_way(path: Path) -> None:
    """Remove an empty folder where the index file goes, or move a full one aside."""
    if not path.is_dir() or path.is_symlink():
        return
    try:
        path.rmdir()
        log.warning("removed the empty folder %s, where the vector index goes", path)
        return
    except OSError:
        pass
    aside = path.with_name(f"{path.name}.moved-aside")
    suffix = 1
    while aside.exists():
        suffix += 1
        aside = path.with_name(f"{path.name}.moved-aside-{suffix}")
    path.rename(aside)
    log.warning("moved the folder %s, where the vector index goes, to %s", path, aside)
