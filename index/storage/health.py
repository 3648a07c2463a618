"""Checking a knowledge base's files for damage, without changing them (`geobot check`).

The database gets SQLite's own integrity check and FTS5's check of the keyword index;
the vector index file is read, its checksum verified, and compared with the stored
vectors: the same generation of the database, as many vectors, the same passage ids.
Nothing is repaired here: the vector index is rebuilt by `geobot reindex` (or by the next
command that opens the store), and a damaged database must be restored or rebuilt.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import DamagedStoreError, StoreError
from index.storage.faiss_index import VectorIndex
from index.storage.sqlite_store import SQLiteStore
from index.storage.vector_sync import temporary_files

__all__ = ["FileHealth", "StoreHealth", "check_store", "integrity_problems"]

# At most this many problems of SQLite's integrity check are reported.
_INTEGRITY_PROBLEMS = 20

DATABASE_ADVICE = (
    "the database is damaged: restore {path} from a backup, or move the data folder aside "
    "and ingest your articles again (the sqlite3 tool's .recover command may save what is "
    "still readable)"
)
VECTORS_ADVICE = (
    "the vector index does not match the stored vectors: `geobot reindex` rebuilds it "
    "(any command that opens the library rebuilds it too)"
)


@dataclass(frozen=True)
class FileHealth:
    """What the check of one file found: problems (damage) and notes (harmless)."""

    path: Path
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checked: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class StoreHealth:
    """The health of a data folder's knowledge base."""

    data_dir: Path
    database: FileHealth
    vectors: FileHealth
    articles: int | None = None
    passages: int | None = None
    advice: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return self.database.ok and self.vectors.ok


def check_store(database: Path, vectors: Path, *, dimension: int | None = None) -> StoreHealth:
    """Check the database at `database` and the vector index at `vectors`. `dimension`
    is the expected vector size (default: the one the database records)."""
    folder = database.parent
    if not database.exists() and not database.is_symlink():
        nothing = "no library here yet"
        return StoreHealth(
            folder, FileHealth(database, notes=(nothing,)), FileHealth(vectors), 0, 0
        )
    try:
        store = SQLiteStore(database)
    except StoreError as exc:
        damage = exc.detail if isinstance(exc, DamagedStoreError) else str(exc)
        advice = (DATABASE_ADVICE.format(path=database),)
        damaged = FileHealth(database, (damage,))
        return StoreHealth(folder, damaged, _unchecked(vectors), advice=advice)
    try:
        return _check_open(store, vectors, dimension)
    finally:
        store.close()


def _unchecked(path: Path) -> FileHealth:
    return FileHealth(path, notes=("not checked: the database cannot be read",), checked=False)


def _check_open(store: SQLiteStore, vectors: Path, dimension: int | None) -> StoreHealth:
    folder = store.path.parent
    problems = integrity_problems(store)
    try:
        with store.snapshot():
            articles, passages = store.article_count(), store.passage_count()
            generation = store.generation
            ids = store.passage_id_set()
            dimension = dimension or int(store.get_meta("dimension") or 0)
            misshapen = _misshapen_vectors(store, dimension) if dimension else 0
    except (StoreError, sqlite3.DatabaseError) as exc:
        damage = exc.detail if isinstance(exc, DamagedStoreError) else str(exc)
        database = FileHealth(store.path, (*problems, damage))
        fix = DATABASE_ADVICE.format(path=store.path)
        return StoreHealth(folder, database, _unchecked(vectors), advice=(fix,))
    if misshapen:
        problems.append(f"{misshapen} stored vectors are not of {dimension} dimensions")
    database = FileHealth(store.path, tuple(problems))
    index_health = _check_vectors(vectors, generation, ids, dimension)
    advice: list[str] = []
    if not database.ok:
        advice.append(DATABASE_ADVICE.format(path=store.path))
    elif not index_health.ok:
        advice.append(VECTORS_ADVICE)
    return StoreHealth(folder, database, index_health, articles, passages, advice=tuple(advice))


def _check_vectors(path: Path, generation: str, ids: set[int], dimension: int) -> FileHealth:
    notes = [
        f"leftover temporary file {leftover.name} (removed by the next command)"
        for leftover in temporary_files(path)
    ]
    if not path.exists():
        if ids:
            return FileHealth(path, ("the file is missing",), tuple(notes))
        return FileHealth(path, (), (*notes, "no vectors yet"))
    try:
        index, header = VectorIndex.load(path)
    except StoreError as exc:
        return FileHealth(path, (str(exc),), tuple(notes))
    problems: list[str] = []
    if header.get("generation") != generation:
        problems.append(
            "it is not of the database's current generation (an interrupted write, or "
            "another process writing right now)"
        )
    if len(index) != len(ids):
        problems.append(f"it holds {len(index)} vectors for {len(ids)} passages")
    found = {int(i) for i in index.ids()}
    if found != ids:
        problems.append(
            f"its passage ids differ from the database's ({len(found - ids)} unknown, "
            f"{len(ids - found)} missing)"
        )
    if dimension and index.dimension != dimension:
        problems.append(f"its vectors have {index.dimension} dimensions, not {dimension}")
    if not problems:
        notes.append(f"{len(index)} vectors, checksum verified")
    return FileHealth(path, tuple(problems), tuple(notes))


def _misshapen_vectors(store: SQLiteStore, dimension: int) -> int:
    """How many stored vectors are not `dimension` float32 values long."""
    row = (
        store.read()
        .execute("SELECT count(*) FROM passages WHERE length(vector) != ?", (dimension * 4,))
        .fetchone()
    )
    return int(row[0])


def integrity_problems(store: SQLiteStore) -> list[str]:
    """What SQLite's integrity check, then FTS5's, find wrong with the database (at most
    20 lines); empty when it is sound. Reads the whole file: slow on a big store."""
    try:
        rows = store.read().execute(f"PRAGMA integrity_check({_INTEGRITY_PROBLEMS})")
        problems = [str(r[0]) for r in rows.fetchall() if str(r[0]) != "ok"]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    if problems:
        return problems
    try:
        # FTS5 compares its index with the text it holds. It changes nothing, but as an
        # INSERT it needs a write transaction (which then commits nothing).
        with store.write() as connection:
            connection.execute("INSERT INTO passages_fts(passages_fts) VALUES ('integrity-check')")
    except (sqlite3.DatabaseError, StoreError) as exc:
        return [f"keyword index: {exc}"]
    return []
