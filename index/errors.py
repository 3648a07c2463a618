"""The exceptions geobot raises, in one tree.

Every error a user can cause or meet derives from :class:`GeobotError`, so a front end
(the CLI, the Discord bot) can catch that one class and show its message as one clear
line. Anything else that escapes is a bug.

    GeobotError
    ├── ConfigError            the configuration file or an environment override is invalid
    ├── BadInputError          one input file or record cannot be ingested (others still are)
    │   └── FetchError         a page or feed cannot be downloaded (kind says why)
    ├── EmbeddingError         the embedding model cannot be loaded or used
    ├── StoreError             the knowledge base on disk cannot be opened or written
    │   ├── DamagedStoreError  the database file is damaged: `geobot check` says how
    │   └── ModelMismatchError the store was built with another model: run `geobot reindex`
    ├── NotFoundError          an article id or other named thing does not exist
    └── QueryError             a search query that cannot be searched (empty, say)
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "ConfigError",
    "DamagedStoreError",
    "EmbeddingError",
    "FetchError",
    "GeobotError",
    "ModelMismatchError",
    "NotFoundError",
    "QueryError",
    "StoreError",
]


class GeobotError(Exception):
    """Base class of every error geobot reports to a user."""


class ConfigError(GeobotError):
    """The configuration (file or `GEOBOT_...` environment variable) is invalid."""


class BadInputError(GeobotError):
    """One input (a file, or one record of a JSON Lines file) cannot be ingested.

    `source` names the file (and record) and `reason` says why, so the message reads as one
    line: ``notes.bin: binary file (NUL bytes), not text``.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class FetchError(BadInputError):
    """A page or feed cannot be downloaded: the message reads ``URL: reason``.

    `kind` sorts the failure for reports and retry policy: ``"scheme"`` (not an http or
    https URL), ``"refused"`` (the host or an address it resolves to is not public, and
    ``[fetch] allowed_hosts`` does not allow it), ``"network"`` (connection refused, DNS
    failure, reset), ``"timeout"``, ``"too_large"``, ``"redirect"`` (a loop, too many, a
    bad Location), ``"status"`` (an HTTP error status, in `status`) or ``"content_type"``
    (not a page, or not a feed).
    """

    def __init__(self, url: str, reason: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(url, reason)
        self.url = url
        self.kind = kind
        self.status = status


class EmbeddingError(GeobotError):
    """The embedding model cannot be loaded, or failed while encoding."""


class StoreError(GeobotError):
    """The knowledge base on disk cannot be opened, read or written."""


class DamagedStoreError(StoreError):
    """The database file is damaged (bad pages, not a database, truncated to nothing).

    The message names the file, what SQLite found, and what to do, in one line.
    """

    def __init__(self, path: object, detail: str) -> None:
        super().__init__(
            f"the knowledge base {path} is damaged ({detail}); run `geobot check` for "
            "details, then restore the file from a backup, or move it aside and ingest "
            "your articles again"
        )
        self.path = path
        self.detail = detail


# Same model, other vector family (int8 against fp32): keeping the store is a setting away.
_FAMILY_HINT = (
    ", or set [embedding] onnx_quantize to match it (true: int8 vectors; false: fp32, like torch's)"
)


class ModelMismatchError(StoreError):
    """The store's vectors were made by another model than the one configured."""

    def __init__(self, stored: str, stored_dim: int, configured: str, configured_dim: int) -> None:
        super().__init__(
            f"this knowledge base was built with model {stored!r} ({stored_dim} dimensions) "
            f"but the configured model is {configured!r} ({configured_dim} dimensions); "
            "run `geobot reindex` to re-embed every passage with the configured model"
            + _FAMILY_HINT
            * (stored.split(" (onnx ")[0] == configured.split(" (onnx ")[0])
        )
        self.stored = stored
        self.configured = configured


class NotFoundError(GeobotError):
    """An article id (or another named thing) does not exist in the knowledge base."""


class QueryError(GeobotError):
    """A query that cannot be searched: empty, or nothing but punctuation."""
