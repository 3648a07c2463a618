"""The on-disk cache of ONNX exports, so a model is exported (and quantised) once::

    cache_dir/
        <model-slug>-<key>-fp32/model.onnx   exported graph with weights (+ meta.json)
        <model-slug>-<key>-int8/model.onnx   dynamically quantised copy of it (+ meta.json)
        .tmp-*/                              an export in progress (renamed into place when done)

``<key>`` hashes the model id, the weights themselves (every tensor of the transformer, ~70 ms
to hash for MiniLM), the model config, the export settings and :data:`FORMAT_VERSION`, so a
changed model or a changed export recipe never silently reuses a stale graph. Each entry is
written into a temporary folder and renamed into place, so a crash never leaves a half-written
model under a final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from index.errors import EmbeddingError

if TYPE_CHECKING:
    import torch

__all__ = ["FORMAT_VERSION", "MODEL_FILE", "cache_key", "publish_entry", "weights_digest"]

logger = logging.getLogger(__name__)

#: Bump when the export recipe (graph inputs/outputs, quantisation settings...) changes, so
#: caches written by older code are ignored rather than loaded.
FORMAT_VERSION: Final = 1

MODEL_FILE: Final = "model.onnx"
_META_FILE: Final = "meta.json"
_TMP_PREFIX: Final = ".tmp-"
# A temporary export folder older than this is a leftover of a crashed process: remove it.
_STALE_TMP_SECONDS: Final = 3600.0


def cache_key(
    model_id: str,
    auto_model: torch.nn.Module,
    weights: str,
    input_names: list[str],
    *,
    opset: int,
    quantizer: str | None,
) -> str:
    """Hex digest naming one cache entry; see the module docstring for what goes in.

    `quantizer` names the int8 quantisation recipe, None for the fp32 graph.
    """
    header = {
        "format": FORMAT_VERSION,
        "model_id": model_id,
        "opset": opset,
        "inputs": input_names,
        "quantize": quantizer is not None,
        "quantizer": quantizer,
        "config": _config_json(auto_model),
    }
    text = json.dumps(header, sort_keys=True, default=str) + weights
    return hashlib.sha256(text.encode()).hexdigest()


def _config_json(auto_model: torch.nn.Module) -> str | None:
    config: Any = getattr(auto_model, "config", None)
    to_json = getattr(config, "to_json_string", None)
    return str(to_json(use_diff=False)) if callable(to_json) else None


def weights_digest(auto_model: torch.nn.Module) -> str:
    """SHA-256 of every tensor of the model (names, dtypes, shapes and bytes).

    Hashing the weights themselves rather than their file's size/mtime: the same bytes loaded
    from anywhere hit the cache, and weights changed in memory (or a file replaced in place with
    the same size and mtime) never do. ~70 ms for MiniLM's 90 MB.
    """
    import torch

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in auto_model.state_dict().items():
            flat = tensor.detach().to("cpu").contiguous().reshape(-1)
            digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
            if flat.numel():
                digest.update(memoryview(flat.view(torch.uint8).numpy()))
    return digest.hexdigest()


def publish_entry(entry: Path, write: Callable[[Path], None]) -> None:
    """Create cache folder ``entry`` atomically: ``write`` fills a temp folder, then rename.

    If another process publishes the same entry first, ours is discarded (theirs is identical).
    """
    parent = entry.parent
    _remove_stale_temps(parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=parent))
    except OSError as exc:
        raise EmbeddingError(f"onnx encoder: cannot write in cache folder {parent}: {exc}") from exc
    try:
        started = time.perf_counter()
        write(tmp)
        meta = {"format": FORMAT_VERSION, "entry": entry.name, "created": time.time()}
        (tmp / _META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        for path in tmp.iterdir():
            _fsync(path)
        _fsync(tmp)
        try:
            os.rename(tmp, entry)
        except OSError:
            if not (entry / MODEL_FILE).is_file():
                raise
            # Lost a race with another process writing the same entry: keep theirs.
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _fsync(parent)
        logger.info("onnx encoder: wrote %s in %.1f s", entry, time.perf_counter() - started)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, EmbeddingError) or not isinstance(exc, Exception):
            raise
        raise EmbeddingError(f"onnx encoder: cannot write {entry}: {exc}") from exc


def _remove_stale_temps(parent: Path) -> None:
    now = time.time()
    for path in parent.glob(f"{_TMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file or folder) to disk, so a rename never outlives its contents."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
