"""The on-disk cache of verified ONNX exports, so a model is exported (and checked) once::

    cache_dir/
        <model-slug>-<key>-fp32/     the exported graph, checked against torch
            model.onnx  tokenizer.json  verified.json  meta.json
        <model-slug>-<key>-int8/     its dynamically quantised copy, checked the same way
        .tmp-*/                      an export in progress (renamed into place when done)

``<key>`` hashes :data:`FORMAT_VERSION`, the model id, the export recipe (opset,
quantisation settings) and the *source signature* of the model's folder: the name, size and
modification time of every file in it, and the bytes of its small files (configs,
tokenizer). It is computed from the folder alone, without torch, so a later start finds the
verified export in a few milliseconds; a changed model file or a changed recipe gives another
key, so a stale graph is never reused. ``verified.json`` is written last, inside the entry's
temporary folder, only after the probe check passed; each entry is renamed into place whole,
so a crash never leaves a half-written model under a final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from index.errors import EmbeddingError

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILE",
    "TOKENIZER_FILE",
    "VERIFIED_FILE",
    "entry_path",
    "publish_entry",
    "read_verified",
    "source_signature",
]

logger = logging.getLogger(__name__)

#: Bump when the export recipe (graph inputs/outputs, quantisation settings, what
#: verified.json holds...) changes, so caches written by older code are ignored.
FORMAT_VERSION: Final = 2

MODEL_FILE: Final = "model.onnx"
TOKENIZER_FILE: Final = "tokenizer.json"
VERIFIED_FILE: Final = "verified.json"
_META_FILE: Final = "meta.json"
_TMP_PREFIX: Final = ".tmp-"
# A temporary export folder older than this is a leftover of a crashed process: remove it.
_STALE_TMP_SECONDS: Final = 3600.0
# Files up to this size are hashed byte for byte (configs, vocabularies, tokenizer.json);
# larger ones (the weights) by name, size and modification time, to keep a start fast.
_HASHED_FILE_BYTES: Final = 4 * 1024 * 1024
_MAX_SOURCE_FILES: Final = 2000


def source_signature(folder: Path) -> str:
    """A digest of the model folder's files, computed without loading the model."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
    if not files or len(files) > _MAX_SOURCE_FILES:
        raise EmbeddingError(f"onnx encoder: {folder} does not look like a model folder")
    for path in files:
        stat = path.stat()  # follows the hub cache's symlinks to the blobs
        relative = path.relative_to(folder).as_posix()
        digest.update(f"{relative}|{stat.st_size}|{stat.st_mtime_ns}|".encode())
        if stat.st_size <= _HASHED_FILE_BYTES:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def entry_path(
    cache_dir: Path, model_id: str, signature: str, recipe: dict[str, Any], family: str
) -> Path:
    """The cache folder of one verified export (`family`: "fp32" or "int8")."""
    header = {"format": FORMAT_VERSION, "model_id": model_id, "recipe": recipe}
    text = json.dumps(header, sort_keys=True) + signature
    key = hashlib.sha256(text.encode()).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("._")[:60] or "model"
    return cache_dir / f"{slug}-{key[:16]}-{family}"


def read_verified(entry: Path) -> dict[str, Any] | None:
    """The record of a verified export, or None when `entry` holds none (or a damaged one)."""
    try:
        record = json.loads((entry / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
        return None
    return record


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
            if not (entry / VERIFIED_FILE).is_file():
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
