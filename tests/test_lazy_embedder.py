"""`LazyEmbedder.load_in_background`: a cold `geobot ask` loads the model on another thread
while it imports and opens the store. The model is loaded once, whichever thread gets there
first, and a failure of the background load reaches the caller as the failure itself.

The model loader is replaced by one the test controls; every check waits for the loading
thread to end (by joining it) before asserting, so no outcome depends on which thread runs
first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashingEmbedder

import index.embedding.factory as factory
import index.embedding.onnx_embedder as onnx_embedder
from index import EmbeddingError
from index.config import EmbeddingConfig
from index.embedding.factory import LazyEmbedder


def _join_loader() -> None:
    for thread in threading.enumerate():
        if thread.name == "geobot-model-load":
            thread.join(timeout=60)
            assert not thread.is_alive()


def _fake_loader(
    monkeypatch: pytest.MonkeyPatch, outcome: Callable[[int], object], *, exported: bool = True
) -> list[int]:
    """Replace the model loader: call n (from 1) returns or raises what outcome(n) gives."""
    calls: list[int] = []
    lock = threading.Lock()

    def load(config: EmbeddingConfig, **_: Any) -> object:
        with lock:
            calls.append(len(calls) + 1)
            n = len(calls)
        result = outcome(n)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(factory, "load_embedder", load)
    # Whether the verified export is in the cache (see the first-start test below).
    monkeypatch.setattr(onnx_embedder, "export_is_ready", lambda config, cache: exported)
    return calls


def test_the_model_loads_once_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    model = HashingEmbedder(dimension=16)
    calls = _fake_loader(monkeypatch, lambda n: model)
    embedder = LazyEmbedder(EmbeddingConfig(backend="onnx"))
    embedder.load_in_background()
    _join_loader()
    assert calls == [1] and embedder.is_loaded
    vector = embedder.embed_query("ceasefire talks")
    assert np.array_equal(vector, model.embed_query("ceasefire talks"))
    embedder.load_in_background()  # already loaded: nothing more happens
    _join_loader()
    assert calls == [1]


def test_a_use_during_the_background_load_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    model = HashingEmbedder(dimension=16)
    release = threading.Event()

    def outcome(n: int) -> object:
        release.wait(timeout=60)
        return model

    calls = _fake_loader(monkeypatch, outcome)
    embedder = LazyEmbedder(EmbeddingConfig(backend="onnx"))
    embedder.load_in_background()
    results: list[object] = []
    user = threading.Thread(target=lambda: results.append(embedder.embed_query("x")))
    user.start()
    release.set()
    user.join(timeout=60)
    _join_loader()
    # Whichever thread took the lock first loaded the model; the other used it.
    assert calls == [1] and len(results) == 1


def test_a_failed_background_load_is_raised_to_the_next_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = HashingEmbedder(dimension=16)
    calls = _fake_loader(
        monkeypatch, lambda n: EmbeddingError("cannot load the export") if n == 1 else model
    )
    embedder = LazyEmbedder(EmbeddingConfig(backend="onnx"))
    embedder.load_in_background()
    _join_loader()
    with pytest.raises(EmbeddingError, match="cannot load the export"):
        embedder.embed_query("x")
    assert calls == [1]  # the failure was handed over, not loaded again to find it
    # Raised once: the next use tries again (a model exported since then loads).
    embedder.embed_query("x")
    assert calls == [1, 2]


def test_a_torch_model_is_not_loaded_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_loader(monkeypatch, lambda n: HashingEmbedder(dimension=16))
    embedder = LazyEmbedder(EmbeddingConfig(backend="torch"))
    embedder.load_in_background()
    _join_loader()
    assert calls == [] and not embedder.is_loaded


def test_the_first_start_exports_on_first_use_not_in_the_background(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No verified export in the cache: the one-minute export and its progress lines happen
    # when the model is first used, on the caller's thread, as before.
    calls = _fake_loader(monkeypatch, lambda n: HashingEmbedder(dimension=16), exported=False)
    embedder = LazyEmbedder(EmbeddingConfig(backend="onnx"), cache_dir=tmp_path / "models")
    embedder.load_in_background()
    embedder.finish_loading()
    _join_loader()
    assert calls == [] and not embedder.is_loaded
    embedder.embed_query("x")
    assert calls == [1]
