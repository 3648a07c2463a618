"""The default embedder: passages and queries through one verified ONNX export (no torch).

:func:`open_onnx_embedder` finds the verified export of the configured model in the cache
(:mod:`index.embedding.onnx_cache`, keyed by the model folder's files, so finding it needs
neither torch nor the model) and opens it with onnxruntime. Only when there is none (the
first start after install, or a changed model or recipe) does it load the model with
sentence-transformers (torch) and export and verify it (:mod:`index.embedding.onnx_export`),
saying so through `on_progress`.

The single query of a search runs on one thread (robust when the other core is busy);
passages run in length-sorted batches, one batch per core at a time, in a second session
opened on first use, so a process that only searches never pays for it.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.config import EmbeddingConfig
from index.embedding.embedder import Vectors
from index.embedding.model_source import family_model_id, plain_model_id
from index.embedding.onnx_cache import source_signature
from index.embedding.onnx_encoder import OnnxEncoder
from index.embedding.onnx_export import export_verified, verified_entry
from index.embedding.sentence_transformer import load_sentence_transformer
from index.errors import EmbeddingError

__all__ = ["OnnxEmbedder", "export_is_ready", "open_onnx_embedder"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class OnnxEmbedder:
    """An :class:`~index.embedding.embedder.Embedder` over one verified ONNX export."""

    def __init__(self, entry: Path, config: EmbeddingConfig, model_id: str) -> None:
        self._entry = entry
        self._config = config
        self._query = OnnxEncoder(
            entry, threads=1, device=config.device, full_graph_optimisation=False
        )
        self._family = self._query.family
        self._model_id = family_model_id(model_id, self._family)
        self._documents: OnnxEncoder | None = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def backend(self) -> str:
        """What embeds: "onnx-int8" or "onnx-fp32" (recorded in the store)."""
        return f"onnx-{self._family}"

    @property
    def dimension(self) -> int:
        return self._query.dimension

    @property
    def max_tokens(self) -> int:
        return self._query.max_seq_length

    @property
    def special_tokens(self) -> int:
        return self._query.special_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._query.count_tokens(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._query.token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._document_encoder().encode(list(texts))

    def embed_query(self, text: str) -> Vectors:
        return self._query.encode([text]).reshape(-1)

    def _document_encoder(self) -> OnnxEncoder:
        with self._lock:
            if self._documents is None:
                # One intra-op thread per batch, a batch per core: as fast as one batch
                # spread over both cores on an idle machine (+4%), and 17% faster when the
                # other core is busy (docs/benchmarks.md, "Ingest").
                self._documents = OnnxEncoder(
                    self._entry,
                    threads=1,
                    parallel_batches=self._config.threads or os.cpu_count() or 1,
                    batch_size=self._config.batch_size,
                    device=self._config.device,
                    check=False,  # the query session, on the same file, was checked
                )
            return self._documents


def export_is_ready(config: EmbeddingConfig, cache_dir: Path) -> bool:
    """Whether the configured model's verified export is in `cache_dir` (else the first
    use exports it, a minute with torch)."""
    try:
        _, entry = verified_entry(config, cache_dir)
    except EmbeddingError:
        return False
    return entry is not None and entry.is_dir()


def open_onnx_embedder(
    config: EmbeddingConfig, cache_dir: Path, *, on_progress: Progress | None = None
) -> OnnxEmbedder:
    """The configured model through its verified ONNX export, exported first if need be."""
    model_id = plain_model_id(config.model)
    folder, entry = verified_entry(config, cache_dir)
    if entry is not None and entry.is_dir():
        try:
            return OnnxEmbedder(entry, config, model_id)
        except EmbeddingError as exc:
            # A damaged entry (disk error, a half-copied cache) is exported again.
            log.warning("onnx encoder: %s; exporting the model again", exc)
            shutil.rmtree(entry, ignore_errors=True)
    say = on_progress or log.info
    say(
        f"preparing the embedding model {model_id} for onnxruntime: a one-time export and "
        f"check (about a minute), saved in {cache_dir}"
    )
    model = load_sentence_transformer(config.model, device="cpu")
    if folder is None:
        # A hub model that was not downloaded yet: sentence-transformers just fetched it.
        folder, entry = verified_entry(config, cache_dir)
        if folder is None or entry is None:
            raise EmbeddingError(
                f"cannot find the files of model {config.model!r} after loading it; "
                'set [embedding] backend = "torch"'
            )
    entries = export_verified(
        model, cache_dir, model_id=model_id, signature=source_signature(folder)
    )
    family = "int8" if config.onnx_quantize else "fp32"
    embedder = OnnxEmbedder(entries[family], config, model_id)
    say("the embedding model is ready")
    return embedder
