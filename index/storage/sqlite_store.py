"""SQLite storage: articles, passages, their vectors and the FTS5 keyword index.

This database is the source of truth; the FAISS file beside it is a cache of the vectors
stored here. Every write transaction stamps a new random `generation` in `meta`; the
vector index records the generation it was built from, so a mismatch (a crash between the
two writes, a file copied from elsewhere, another process's write) is detected.

Every public method turns SQLite's errors into a StoreError (a DamagedStoreError for a
corrupt file): see :mod:`index.storage.sqlite_files`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.errors import DamagedStoreError, StoreError
from index.models import Article, Passage, Span
from index.storage.keyword_query import fts_query, keyword_sql
from index.storage.rows import (
    ARTICLE_COLUMNS,
    ArticleFilter,
    ArticleRow,
    NewPassage,
    WriteStamp,
    article_from_row,
    parse_stored_time,
)
from index.storage.schema import QUERY_VOCABULARY, SCHEMA, SCHEMA_VERSION
from index.storage.sqlite_files import (
    create_database,
    damage_of_file,
    sqlite_errors,
    sqlite_errors_in_iterator,
    store_error,
)

__all__ = ["ArticleFilter", "ArticleRow", "NewPassage", "SQLiteStore", "WriteStamp"]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _prepare_new(connection: sqlite3.Connection) -> None:
    connection.executescript(SCHEMA)
    connection.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("generation", uuid.uuid4().hex)],
    )


class SQLiteStore:
    """One SQLite file in WAL mode: a writer connection and one reader per thread.

    A missing file is created; an existing one that is empty or not a database raises
    DamagedStoreError rather than being taken for a new, empty library.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._readers_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        try:
            create_database(path, _prepare_new)
            damage = damage_of_file(path)
            if damage is not None:
                raise DamagedStoreError(path, damage)
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)
            self._init_meta()
        except sqlite3.Error as exc:
            error = store_error(exc, path) or StoreError(
                f"cannot open knowledge base {path}: {exc}"
            )
            raise error from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _conn(self, in_transaction: bool) -> sqlite3.Connection:
        """The writer (which sees the rows of the write transaction in progress) or this
        thread's reader."""
        return self._writer if in_transaction else self._reader()

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._writer.close()

    def _init_meta(self) -> None:
        row = self._writer.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._writer.execute("BEGIN IMMEDIATE")
            self._writer.executemany(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("generation", uuid.uuid4().hex)],
            )
            self._writer.execute("COMMIT")
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {row[0]}, this geobot reads {SCHEMA_VERSION}"
            )

    # -- meta -------------------------------------------------------------------------

    @sqlite_errors
    def get_meta(self, key: str, *, in_transaction: bool = False) -> str | None:
        conn = self._conn(in_transaction)
        row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @sqlite_errors
    def set_meta(self, key: str, value: str) -> None:
        """Set one meta value; inside `transaction()` it commits with the rest."""
        self._writer.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @property
    def generation(self) -> str:
        """The generation last committed (or, inside `snapshot()`, the snapshot's)."""
        return self.get_meta("generation") or ""

    def generation_in_transaction(self) -> str:
        """The generation as the write transaction in progress sees it."""
        return self.get_meta("generation", in_transaction=True) or ""

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[WriteStamp]:
        """A write transaction that stamps a new generation; yields it with the one it
        replaces (what another process committed last, maybe).

        The caller may write the vector index (tagged with that generation) inside the
        block: the commit happens after, so a crash in between leaves the file's generation
        unknown to SQLite, and the next open rebuilds the index.
        """
        with self.write():
            previous = self.generation_in_transaction()
            generation = uuid.uuid4().hex
            self.set_meta("generation", generation)
            yield WriteStamp(generation, previous)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; yields the writer connection. On its own (not through
        `transaction`) it leaves the search generation alone: for state that searches do
        not read (feeds, say). Holding it, a process is the only writer of the data
        folder: the vector index file is only ever written inside one."""
        with self._write_lock:
            self._execute_on(self._writer, "BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException as exc:
                # SQLite may have rolled back already (a full disk, a damaged page).
                if self._writer.in_transaction:
                    self._execute_on(self._writer, "ROLLBACK")
                error = store_error(exc, self.path) if isinstance(exc, sqlite3.Error) else None
                if error is not None:
                    raise error from exc
                raise
            self.commit()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads on this thread, inside the block, all see one committed state of the
        store, however many queries they take and whatever other processes commit."""
        conn = self._reader()
        self._execute_on(conn, "BEGIN")
        try:
            yield
        finally:
            if conn.in_transaction:
                self._execute_on(conn, "COMMIT")

    def _execute_on(self, conn: sqlite3.Connection, statement: str) -> None:
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            error = store_error(exc, self.path)
            if error is None:
                raise
            raise error from exc

    def read(self) -> sqlite3.Connection:
        """This thread's reader connection."""
        return self._reader()

    def ensure_schema(self, script: str) -> None:
        """Create the tables of a layer that keeps its own state in this database."""
        try:
            with self._write_lock:
                self._writer.executescript(script)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot prepare {self.path}: {exc}") from None

    def commit(self) -> None:
        # A method of its own so that tests can simulate a crash right before it.
        self._execute_on(self._writer, "COMMIT")

    @sqlite_errors
    def find_article(self, key: str) -> ArticleRow | None:
        row = self._writer.execute(
            "SELECT id, content_hash FROM articles WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        content_hash, _, metadata_hash = str(row[1]).partition("/")
        return ArticleRow(int(row[0]), content_hash, metadata_hash)

    @sqlite_errors
    def article_id(self, key: str) -> int | None:
        """The id of the committed article with this key (a reader: safe in any thread)."""
        row = self._reader().execute("SELECT id FROM articles WHERE key=?", (key,)).fetchone()
        return None if row is None else int(row[0])

    @sqlite_errors
    def upsert_article(
        self,
        *,
        existing_id: int | None,
        key: str,
        title: str,
        text: str,
        url: str | None,
        outlet: str | None,
        published: datetime | None,
        country: str | None,
        language: str | None,
        author: str | None,
        source: str,
        content_hash: str,
        metadata_hash: str,
    ) -> int:
        values = (
            url,
            title,
            outlet,
            country,
            language,
            author,
            published.isoformat(sep=" ") if published else None,
            text,
            f"{content_hash}/{metadata_hash}",
            source,
        )
        now = _now()
        if existing_id is None:
            cursor = self._writer.execute(
                "INSERT INTO articles(url, title, outlet, country, language, author, published,"
                " text, content_hash, source, key, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, key, now, now),
            )
            return int(cursor.lastrowid or 0)
        self._writer.execute(
            "UPDATE articles SET url=?, title=?, outlet=?, country=?, language=?, author=?,"
            " published=?, text=?, content_hash=?, source=?, updated_at=? WHERE id=?",
            (*values, now, existing_id),
        )
        self._writer.execute(
            "UPDATE passages_fts SET title=? WHERE rowid IN "
            "(SELECT id FROM passages WHERE article_id=?)",
            (title, existing_id),
        )
        return existing_id

    @sqlite_errors
    def passage_ids(self, article_id: int, *, in_transaction: bool = False) -> list[int]:
        """An article's passage ids in order; `in_transaction` reads uncommitted rows."""
        rows = (
            self._conn(in_transaction)
            .execute("SELECT id FROM passages WHERE article_id=? ORDER BY ordinal", (article_id,))
            .fetchall()
        )
        return [int(r[0]) for r in rows]

    @sqlite_errors
    def delete_passages(self, article_id: int) -> list[int]:
        ids = self.passage_ids(article_id, in_transaction=True)
        if ids:
            self._writer.executemany("DELETE FROM passages_fts WHERE rowid=?", [(i,) for i in ids])
            self._writer.execute("DELETE FROM passages WHERE article_id=?", (article_id,))
        return ids

    @sqlite_errors
    def insert_passages(
        self, article_id: int, title: str, text: str, passages: Sequence[NewPassage]
    ) -> list[int]:
        ids: list[int] = []
        for passage in passages:
            cursor = self._writer.execute(
                "INSERT INTO passages(article_id, ordinal, start, end, sentences, vector)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    article_id,
                    passage.ordinal,
                    passage.start,
                    passage.end,
                    json.dumps([[s.start, s.end] for s in passage.sentences]),
                    np.ascontiguousarray(passage.vector, dtype=np.float32).tobytes(),
                ),
            )
            passage_id = int(cursor.lastrowid or 0)
            ids.append(passage_id)
            self._writer.execute(
                "INSERT INTO passages_fts(rowid, title, body) VALUES (?, ?, ?)",
                (passage_id, title, text[passage.start : passage.end]),
            )
        return ids

    @sqlite_errors
    def delete_article(self, article_id: int) -> list[int]:
        ids = self.delete_passages(article_id)
        self._writer.execute("DELETE FROM articles WHERE id=?", (article_id,))
        return ids

    # -- reading ----------------------------------------------------------------------

    @sqlite_errors
    def article_count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM articles").fetchone()[0])

    @sqlite_errors
    def passage_count(self, *, in_transaction: bool = False) -> int:
        conn = self._conn(in_transaction)
        return int(conn.execute("SELECT count(*) FROM passages").fetchone()[0])

    @sqlite_errors
    def passage_id_set(self, *, in_transaction: bool = False) -> set[int]:
        """Every passage id (to compare with the vector index's)."""
        rows = self._conn(in_transaction).execute("SELECT id FROM passages").fetchall()
        return {int(r[0]) for r in rows}

    @sqlite_errors_in_iterator
    def iter_vectors(
        self, batch: int = 8192, *, in_transaction: bool = False
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """All stored (ids, vectors), in id order, a batch at a time.

        `in_transaction` reads through the writer, so rows not yet committed are seen.
        """
        last = -1
        conn = self._conn(in_transaction)
        while True:
            rows = conn.execute(
                "SELECT id, vector FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), -1)
            last = int(ids[-1])

    @sqlite_errors_in_iterator
    def iter_passage_texts(self, batch: int = 2048) -> Iterator[list[tuple[int, str, str]]]:
        """(passage id, article title, passage text) for every passage, a batch at a time."""
        last = -1
        conn = self._reader()
        while True:
            rows = conn.execute(
                "SELECT p.id, a.title, substr(a.text, p.start + 1, p.end - p.start)"
                " FROM passages p JOIN articles a ON a.id = p.article_id"
                " WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
            last = int(rows[-1][0])

    @sqlite_errors
    def filtered_passage_ids(self, where: ArticleFilter) -> npt.NDArray[np.int64]:
        clause, params = where.sql()
        rows = (
            self._reader()
            .execute(
                "SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id"
                f" WHERE {clause}",
                params,
            )
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    @sqlite_errors
    def term_frequencies(self, terms: Sequence[str]) -> list[int]:
        """How many passages hold each of `terms`, as FTS5 indexes it.

        Terms are stemmed by FTS5 itself (through a scratch table with the same
        tokenizer), so the counts are exactly those of the index; counts are cached per
        thread until the store's generation changes.
        """
        if not terms:
            return []
        conn = self._reader()
        if not getattr(self._local, "vocab_ready", False):
            conn.executescript(QUERY_VOCABULARY)
            self._local.vocab_ready = True
        conn.execute("DELETE FROM temp.query_words")
        conn.executemany(
            "INSERT INTO temp.query_words(rowid, w) VALUES (?, ?)", list(enumerate(terms))
        )
        stems = dict(conn.execute("SELECT doc, term FROM temp.query_stems").fetchall())
        generation = self.generation
        cache: dict[str, int] = getattr(self._local, "term_counts", {})
        if (
            getattr(self._local, "term_counts_generation", None) != generation
            or len(cache) > 100_000
        ):
            cache = {}
            self._local.term_counts = cache
            self._local.term_counts_generation = generation
        for stem in set(stems.values()):
            if stem not in cache:
                row = conn.execute(
                    "SELECT doc FROM temp.passage_terms WHERE term = ?", (stem,)
                ).fetchone()
                cache[stem] = int(row[0]) if row else 0
        return [cache.get(stems.get(i, ""), 0) for i in range(len(terms))]

    @sqlite_errors
    def keyword_search(
        self,
        match: str,
        k: int,
        where: ArticleFilter,
        *,
        title_weight: float = 0.5,
        required: str | None = None,
    ) -> list[tuple[int, float]]:
        """(passage id, bm25 score: higher is better) for an FTS5 `match` expression.

        With `required` (another expression), only passages that also match it are
        scored: bm25 costs per scored row, so this bounds the work on large stores.
        """
        sql, values = keyword_sql(match, where, title_weight=title_weight, required=required)
        rows = self._reader().execute(sql, [*values, k]).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    @sqlite_errors
    def passage_vectors(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """The stored vectors of some passages (for diversity and redundancy checks)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = (
            self._reader()
            .execute(f"SELECT id, vector FROM passages WHERE id IN ({marks})", list(ids))
            .fetchall()
        )
        return {int(r[0]): np.frombuffer(r[1], dtype=np.float32) for r in rows}

    @sqlite_errors
    def document_frequency(self, term: str) -> int:
        """How many passages contain `term` (as FTS5 tokenises and stems it)."""
        match = fts_query(term)
        if match is None:
            return 0
        row = (
            self._reader()
            .execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", (match,))
            .fetchone()
        )
        return int(row[0])

    @sqlite_errors
    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = (
            self._reader()
            .execute(
                "SELECT p.id, p.article_id, p.ordinal, p.start, p.end, p.sentences,"
                " substr(a.text, p.start + 1, p.end - p.start)"
                f" FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
                list(ids),
            )
            .fetchall()
        )
        return {int(r[0]): _passage_from_row(r, str(r[6])) for r in rows}

    @sqlite_errors
    def passages_with_articles(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, Passage], dict[int, Article]]:
        """The passages of these ids and their articles, as one committed state shows them.

        Each passage's text is cut from its article's text in memory: reading it with
        SQL as well (`passages`) reads every article's text twice, which was most of the
        cost of showing a search's hits.
        """
        if not ids:
            return {}, {}
        marks = ",".join("?" * len(ids))
        conn = self._reader()
        # Inside a caller's snapshot already, or in one of its own for its two queries.
        with contextlib.nullcontext() if conn.in_transaction else self.snapshot():
            rows = conn.execute(
                "SELECT id, article_id, ordinal, start, end, sentences FROM passages"
                f" WHERE id IN ({marks})",
                list(ids),
            ).fetchall()
            articles = self.articles(sorted({int(r[1]) for r in rows}))
        passages = {
            int(r[0]): _passage_from_row(r, article.text[int(r[3]) : int(r[4])])
            for r in rows
            if (article := articles.get(int(r[1]))) is not None
        }
        return passages, articles

    @sqlite_errors
    def passages_of(self, article_id: int) -> list[Passage]:
        found = self.passages(self.passage_ids(article_id))
        return sorted(found.values(), key=lambda p: p.ordinal)

    @sqlite_errors
    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = (
            self._reader()
            .execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.id IN ({marks})",
                list(ids),
            )
            .fetchall()
        )
        return {int(r[0]): article_from_row(r) for r in rows}

    @sqlite_errors
    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        rows = (
            self._reader()
            .execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a"
                " ORDER BY a.published IS NULL, a.published DESC, a.id LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            )
            .fetchall()
        )
        return [article_from_row(r) for r in rows]

    @sqlite_errors
    def article_titles(self) -> list[tuple[int, str, datetime | None]]:
        """Every article's id, title and date, newest first, without its text: what an
        in-memory autocomplete list needs."""
        rows = (
            self._reader()
            .execute(
                "SELECT a.id, a.title, a.published FROM articles a"
                " ORDER BY a.published IS NULL, a.published DESC, a.id"
            )
            .fetchall()
        )
        return [(int(r[0]), str(r[1]), parse_stored_time(r[2])) for r in rows]

    @sqlite_errors
    def find_articles(self, text: str, *, limit: int = 25) -> list[Article]:
        """Articles whose title contains `text` (case-insensitive), newest first; an id
        typed as a number matches that article too. For autocompletion."""
        pattern = (
            "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        article_id = int(text) if text.strip().isdigit() else -1
        rows = (
            self._reader()
            .execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles a"
                " WHERE a.id = ? OR a.title LIKE ? ESCAPE '\\'"
                " ORDER BY a.id = ? DESC, a.published IS NULL, a.published DESC LIMIT ?",
                (article_id, pattern, article_id, limit),
            )
            .fetchall()
        )
        return [article_from_row(r) for r in rows]

    @sqlite_errors
    def date_span(self) -> tuple[datetime | None, datetime | None]:
        row = (
            self._reader().execute("SELECT min(published), max(published) FROM articles").fetchone()
        )
        return parse_stored_time(row[0]), parse_stored_time(row[1])

    @sqlite_errors
    def outlet_counts(self) -> list[tuple[str, int]]:
        rows = (
            self._reader()
            .execute(
                "SELECT coalesce(outlet, '(unknown)'), count(*) FROM articles"
                " GROUP BY 1 ORDER BY 2 DESC, 1"
            )
            .fetchall()
        )
        return [(str(r[0]), int(r[1])) for r in rows]


def _passage_from_row(row: Sequence[object], text: str) -> Passage:
    """A passage from a row of (id, article_id, ordinal, start, end, sentences JSON)."""
    return Passage(
        id=int(str(row[0])),
        article_id=int(str(row[1])),
        ordinal=int(str(row[2])),
        start=int(str(row[3])),
        end=int(str(row[4])),
        text=text,
        sentences=tuple(Span(int(a), int(b)) for a, b in json.loads(str(row[5]))),
    )
