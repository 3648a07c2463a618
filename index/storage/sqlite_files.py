"""The SQLite file on disk: made whole or not at all, refused when damaged, and SQLite's
errors turned into the knowledge base's own.

A new database is prepared under a temporary name and linked into place complete, so a
database file geobot made is never empty: an empty one (a truncated copy, a full disk)
is damage, not a new library. SQLite's errors while reading or writing become a
:class:`~index.errors.StoreError` (a :class:`~index.errors.DamagedStoreError` when SQLite
finds the file corrupt), so that a front end shows one line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from index.errors import DamagedStoreError, StoreError

__all__ = [
    "create_database",
    "damage_of_file",
    "sqlite_errors",
    "sqlite_errors_in_iterator",
    "store_error",
]

# Primary result codes (the low byte of an extended code) that mean a damaged file.
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# What a file starts with when it is an SQLite database.
_SQLITE_MAGIC = b"SQLite format 3\x00"


class _StoreFile(Protocol):
    @property
    def path(self) -> Path: ...


S = TypeVar("S", bound=_StoreFile)
P = ParamSpec("P")
R = TypeVar("R")
Y = TypeVar("Y")


def store_error(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """What `exc` means for the knowledge base in `path`; None for a programming error
    (a broken constraint, a misused API), which is a bug and keeps its traceback."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _DAMAGE_CODES:
        return DamagedStoreError(path, str(exc))
    if type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError):
        # The disk is full, the file is locked or read-only, an I/O error...
        return StoreError(f"cannot use the knowledge base {path}: {exc}")
    return None


def sqlite_errors(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A store method whose SQLite errors are raised as :func:`store_error` says."""

    @functools.wraps(method)
    def translated(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            error = store_error(exc, self.path)
            if error is None:
                raise
            raise error from exc

    return translated


def sqlite_errors_in_iterator(
    method: Callable[Concatenate[S, P], Iterator[Y]],
) -> Callable[Concatenate[S, P], Iterator[Y]]:
    """:func:`sqlite_errors` for a store method that is a generator."""

    @functools.wraps(method)
    def translated(self: S, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[Y]:
        try:
            yield from method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            error = store_error(exc, self.path)
            if error is None:
                raise
            raise error from exc

    return translated


def damage_of_file(path: Path) -> str | None:
    """Why the database file at `path` is damaged on its face, or None: an empty file or
    one that is not an SQLite database at all (what SQLite would otherwise overwrite or
    report only on the first query)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(len(_SQLITE_MAGIC))
    except IsADirectoryError:
        return "it is a folder, not a file"
    except OSError as exc:
        return f"it cannot be read: {exc.strerror or exc}"
    if not start:
        return "the file is empty (0 bytes)"
    if start != _SQLITE_MAGIC:
        return "the file is not an SQLite database"
    return None


def create_database(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> None:
    """Make the database at `path` unless it exists: prepared by `prepare` under a
    temporary name, then linked into place whole, so no process ever sees it half made.

    When another process links its own first, that one is kept. On a file system without
    hard links the database is made in place, as SQLite would.
    """
    if path.exists() or path.is_symlink():
        return
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.new")
    # The permissions SQLite itself gives a new database (less the umask), not mkstemp's.
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    name = str(temporary)
    try:
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            prepare(connection)
        finally:
            connection.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use that one
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise StoreError(f"cannot create the knowledge base {path}: {exc}") from None
    finally:
        for leftover in (temporary, *(Path(f"{name}{s}") for s in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
