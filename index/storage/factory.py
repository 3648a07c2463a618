"""The storage backend a configuration names (``[storage] backend``), opened: the one
place that knows every backend, so none of them imports another."""

from __future__ import annotations

from pathlib import Path

from index.config import Config
from index.errors import ConfigError
from index.storage.backend import StorageBackend

__all__ = ["open_backend"]


def open_backend(config: Config, data_dir: Path) -> StorageBackend:
    """The configured backend (`[storage] backend`), opened on `data_dir`."""
    kind = config.storage.backend
    if kind == "sqlite":
        from index.storage.sqlite_backend import SQLiteBackend

        return SQLiteBackend.open(config, data_dir)
    if kind == "milvus":
        try:
            from index.storage.milvus_backend import MilvusBackend
        except ImportError as exc:
            raise ConfigError(
                f"[storage] backend = 'milvus' needs pymilvus: pip install 'geobot[milvus]' ({exc})"
            ) from None
        return MilvusBackend.open(config, data_dir)
    raise ConfigError(f"unknown [storage] backend {kind!r}")  # pragma: no cover: validated
