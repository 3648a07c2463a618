"""The torch backend: any sentence-transformers model behind the Embedder interface.

Chosen with ``[embedding] backend = "torch"``. Passages are embedded by
``SentenceTransformer.encode``; the single query of a search goes through the fp32 ONNX
export of the same model when ``query_backend = "onnx"`` (the same vectors to float
rounding, several times faster for one short text). Its vectors are the "fp32" family, like
the fp32 ONNX backend's (:func:`~index.embedding.model_source.family_model_id`).
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
from index.embedding.model_source import plain_model_id, resolve_model_path
from index.errors import EmbeddingError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from index.embedding.onnx_encoder import OnnxEncoder

__all__ = ["SentenceTransformerEmbedder", "load_sentence_transformer"]

log = logging.getLogger(__name__)


def load_sentence_transformer(model: str, *, device: str = "cpu") -> SentenceTransformer:
    """The configured model, loaded by sentence-transformers (imports torch: seconds)."""
    path = resolve_model_path(model)
    if model == BUNDLED_MODEL or Path(path).exists():
        # A local folder never needs the hub; without this, transformers may still
        # try to reach it for metadata and stall on a closed network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                log.warning("[embedding] device = 'cuda', but torch sees no GPU: using the CPU")
                device = "cpu"
        # Its "Loading weights" bar would land in every CLI command's output.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(path, device=device)
    except Exception as exc:
        raise EmbeddingError(f"cannot load embedding model {model!r}: {exc}") from exc


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, run by torch; the default is all-MiniLM-L6-v2."""

    def __init__(self, config: EmbeddingConfig, *, cache_dir: Path | None = None) -> None:
        self._config = config
        self._model_id = plain_model_id(config.model)
        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        self._model: SentenceTransformer = load_sentence_transformer(
            config.model, device=config.device
        )
        dimension: int | None = self._model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingError(f"model {config.model!r} does not report its dimension")
        self._dimension = int(dimension)
        self._max_tokens = int(self._model.max_seq_length or 512)
        self._tokenizer: Any = self._model.tokenizer
        self._special = len(self._tokenizer("", add_special_tokens=True)["input_ids"])
        # Hugging Face fast tokenizers are not safe to share between threads.
        self._lock = threading.Lock()
        self._query_encoder: OnnxEncoder | None = None
        if config.query_backend == "onnx":
            self._query_encoder = self._load_onnx(cache_dir)

    def _load_onnx(self, cache_dir: Path | None) -> OnnxEncoder | None:
        """The fp32 export (exported from this very model when there is none yet)."""
        from index.embedding.onnx_cache import source_signature
        from index.embedding.onnx_encoder import OnnxEncoder
        from index.embedding.onnx_export import export_verified, verified_entry

        if cache_dir is None:
            from index.config import default_data_dir

            cache_dir = default_data_dir() / "models"
        fp32 = self._config.model_copy(update={"onnx_quantize": False})
        try:
            folder, entry = verified_entry(fp32, cache_dir)
            if folder is None or entry is None:
                raise EmbeddingError(f"the files of {self._model_id!r} are not in one folder")
            if not entry.is_dir():
                entry = export_verified(
                    self._model,
                    cache_dir,
                    model_id=self._model_id,
                    signature=source_signature(folder),
                )["fp32"]
            return OnnxEncoder(entry, threads=1, device=self._config.device)
        except EmbeddingError as exc:
            log.warning("ONNX query path unavailable, using torch for queries: %s", exc)
            return None

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def backend(self) -> str:
        return "torch"

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
            return self._query_encoder.encode([text]).reshape(-1)
        return self.embed_documents([text]).reshape(-1)
