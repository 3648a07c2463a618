"""The configured embedder, and :class:`LazyEmbedder`, the same loaded on first real use.

``[embedding] backend`` picks :class:`~index.embedding.onnx_embedder.OnnxEmbedder` (the
default; never imports torch once its export is verified) or
:class:`~index.embedding.sentence_transformer.SentenceTransformerEmbedder` (torch). Both
modules are imported only when an embedder is built, so commands that need no model never
import onnxruntime or torch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from index.config import EmbeddingConfig, default_data_dir
from index.embedding.embedder import Embedder, Vectors
from index.embedding.model_source import family_model_id, plain_model_id

__all__ = ["LazyEmbedder", "backend_name", "load_embedder", "vector_family"]


def vector_family(config: EmbeddingConfig) -> str:
    """The family of the vectors `config` makes: "int8" or "fp32" (torch or fp32 ONNX)."""
    return "int8" if config.backend == "onnx" and config.onnx_quantize else "fp32"


def backend_name(config: EmbeddingConfig) -> str:
    """What embeds under `config`: "torch", "onnx-fp32" or "onnx-int8"."""
    return "torch" if config.backend == "torch" else f"onnx-{vector_family(config)}"


def load_embedder(
    config: EmbeddingConfig,
    *,
    cache_dir: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Embedder:
    """The embedder `config` asks for; `cache_dir` holds the ONNX exports."""
    cache = cache_dir if cache_dir is not None else default_data_dir() / "models"
    if config.backend == "torch":
        from index.embedding.sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(config, cache_dir=cache)
    from index.embedding.onnx_embedder import open_onnx_embedder

    return open_onnx_embedder(config, cache, on_progress=on_progress)


class LazyEmbedder:
    """An :class:`Embedder` that loads its model on first real use.

    Listing sources or removing an article needs the model's name (to check the store)
    but not the model, and loading a model takes from a tenth of a second (a verified
    ONNX export) to seconds (torch).
    """

    def __init__(
        self,
        config: EmbeddingConfig,
        *,
        cache_dir: Path | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self._config = config
        self._cache_dir = cache_dir
        self._on_progress = on_progress
        self._loaded: Embedder | None = None
        self._failure: Exception | None = None
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None

    @property
    def loaded(self) -> Embedder:
        with self._lock:
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            if self._loaded is None:
                self._loaded = load_embedder(
                    self._config, cache_dir=self._cache_dir, on_progress=self._on_progress
                )
            return self._loaded

    def load_in_background(self) -> None:
        """Start loading the model on another thread, so that a command's remaining imports
        and the opening of its store overlap with it (onnxruntime builds its session
        without holding the GIL): ~0.2 s of a cold `geobot ask`. The next use waits for it
        and raises what the load raised. The modules it needs are imported here, on the
        calling thread: two threads importing the same modules can see each other's
        half-initialised modules. Torch models, and a model whose export is not made yet
        (the first start: a minute, with progress lines), load on first use, as before."""
        if self._config.backend != "onnx" or self._loaded is not None or self._loader is not None:
            return
        from index.embedding.onnx_embedder import export_is_ready  # (see above)

        cache = self._cache_dir if self._cache_dir is not None else default_data_dir() / "models"
        try:
            ready = export_is_ready(self._config, cache)
        except OSError:  # an unreadable cache: the first use says what is wrong
            return
        if not ready:
            return  # the first start exports on first use, with its progress lines

        def load() -> None:
            try:
                self.loaded  # noqa: B018  (a property that loads)
            except Exception as exc:  # handed to the next use, on the caller's thread
                with self._lock:
                    self._failure = exc

        self._loader = threading.Thread(target=load, name="geobot-model-load", daemon=True)
        self._loader.start()

    def finish_loading(self) -> None:
        """Wait for a background load to end (its outcome is kept for the next use): a
        command that turns out not to need the model does not exit in the middle of it."""
        if self._loader is not None:
            self._loader.join()

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def model_id(self) -> str:
        return family_model_id(plain_model_id(self._config.model), vector_family(self._config))

    @property
    def backend(self) -> str:
        return backend_name(self._config)

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
