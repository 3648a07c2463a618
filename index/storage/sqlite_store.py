"""SQLite storage: articles, passages, their vectors and the FTS5 keyword index.

This database is the source of truth; the FAISS file beside it is a cache of the vectors
stored here. Every write transaction stamps a new random `generation` in `meta`; the
vector index records the generation it was built from, so a mismatch (a crash between the
two writes, a file copied from elsewhere) is detected when the store is opened.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.errors import StoreError
from index.models import Article, Passage, Span
from index.storage.keyword_query import fts_query
from index.storage.schema import SCHEMA, SCHEMA_VERSION

__all__ = ["ArticleFilter", "ArticleRow", "NewPassage", "SQLiteStore"]


@dataclass(frozen=True)
class ArticleFilter:
    """Restricts a search to articles published in [since, until], from one outlet and/or
    from outlets of one country (ISO code)."""

    since: datetime | None = None
    until: datetime | None = None
    outlet: str | None = None
    country: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.since, self.until, self.outlet, self.country))

    def sql(self, alias: str = "a") -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None:
            clauses.append(f"{alias}.published >= ?")
            params.append(self.since.isoformat(sep=" "))
        if self.until is not None:
            clauses.append(f"{alias}.published <= ?")
            params.append(self.until.isoformat(sep=" "))
        if self.outlet is not None:
            clauses.append(f"{alias}.outlet = ? COLLATE NOCASE")
            params.append(self.outlet)
        if self.country is not None:
            clauses.append(f"{alias}.country = ? COLLATE NOCASE")
            params.append(self.country)
        return (" AND ".join(clauses) or "1"), params


@dataclass(frozen=True)
class NewPassage:
    """A passage about to be written, with its vector."""

    ordinal: int
    start: int
    end: int
    sentences: tuple[Span, ...]
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class ArticleRow:
    """What the ingest path needs to know about an article already stored."""

    id: int
    content_hash: str
    metadata_hash: str


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SQLiteStore:
    """One SQLite file in WAL mode: a writer connection and one reader per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._readers_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        try:
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)
            self._init_meta()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open knowledge base {path}: {exc}") from None

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

    def get_meta(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set one meta value; inside `transaction()` it commits with the rest."""
        self._writer.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @property
    def generation(self) -> str:
        return self.get_meta("generation") or ""

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[str]:
        """A write transaction that stamps a new generation, which it yields.

        The caller may write the vector index (tagged with that generation) inside the
        block: the commit happens after, so a crash in between leaves the file's generation
        unknown to SQLite, and the next open rebuilds the index.
        """
        with self.write():
            generation = uuid.uuid4().hex
            self.set_meta("generation", generation)
            yield generation

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; yields the writer connection. On its own (not through
        `transaction`) it leaves the search generation alone: for state that searches do
        not read (feeds, say)."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self.commit()

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
        self._writer.execute("COMMIT")

    def find_article(self, key: str) -> ArticleRow | None:
        row = self._writer.execute(
            "SELECT id, content_hash FROM articles WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        content_hash, _, metadata_hash = str(row[1]).partition("/")
        return ArticleRow(int(row[0]), content_hash, metadata_hash)

    def article_id(self, key: str) -> int | None:
        """The id of the committed article with this key (a reader: safe in any thread)."""
        row = self._reader().execute("SELECT id FROM articles WHERE key=?", (key,)).fetchone()
        return None if row is None else int(row[0])

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

    def passage_ids(self, article_id: int, *, in_transaction: bool = False) -> list[int]:
        """An article's passage ids in order; `in_transaction` reads uncommitted rows."""
        conn = self._writer if in_transaction else self._reader()
        rows = conn.execute(
            "SELECT id FROM passages WHERE article_id=? ORDER BY ordinal", (article_id,)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def delete_passages(self, article_id: int) -> list[int]:
        ids = self.passage_ids(article_id, in_transaction=True)
        if ids:
            self._writer.executemany("DELETE FROM passages_fts WHERE rowid=?", [(i,) for i in ids])
            self._writer.execute("DELETE FROM passages WHERE article_id=?", (article_id,))
        return ids

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

    def delete_article(self, article_id: int) -> list[int]:
        ids = self.delete_passages(article_id)
        self._writer.execute("DELETE FROM articles WHERE id=?", (article_id,))
        return ids

    # -- reading ----------------------------------------------------------------------

    def article_count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM articles").fetchone()[0])

    def passage_count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM passages").fetchone()[0])

    def iter_vectors(
        self, batch: int = 8192, *, in_transaction: bool = False
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """All stored (ids, vectors), in id order, a batch at a time.

        `in_transaction` reads through the writer, so rows not yet committed are seen.
        """
        last = -1
        conn = self._writer if in_transaction else self._reader()
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
            conn.executescript(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_words USING fts5("
                "w, tokenize = 'porter unicode61 remove_diacritics 2');"
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_stems"
                " USING fts5vocab(temp, query_words, 'instance');"
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.passage_terms"
                " USING fts5vocab(main, passages_fts, 'row');"
            )
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
        clause, params = where.sql()
        join = " JOIN passages p ON p.id = f.rowid JOIN articles a ON a.id = p.article_id"
        conditions = ["passages_fts MATCH ?"]
        values: list[object] = [match]
        if required is not None:
            conditions.append(
                "+f.rowid IN (SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?)"
            )
            values.append(required)
        if where.active:
            conditions.append(clause)
            values.extend(params)
        sql = (
            f"SELECT f.rowid, bm25(passages_fts, {float(title_weight)}, 1.0) AS rank"
            f" FROM passages_fts f{join if where.active else ''}"
            f" WHERE {' AND '.join(conditions)} ORDER BY rank LIMIT ?"
        )
        try:
            rows = self._reader().execute(sql, [*values, k]).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"keyword search failed: {exc}") from None
        return [(int(r[0]), -float(r[1])) for r in rows]

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
        return {
            int(r[0]): Passage(
                id=int(r[0]),
                article_id=int(r[1]),
                ordinal=int(r[2]),
                start=int(r[3]),
                end=int(r[4]),
                text=str(r[6]),
                sentences=tuple(Span(int(a), int(b)) for a, b in json.loads(r[5])),
            )
            for r in rows
        }

    def passages_of(self, article_id: int) -> list[Passage]:
        found = self.passages(self.passage_ids(article_id))
        return sorted(found.values(), key=lambda p: p.ordinal)

    _ARTICLE_COLUMNS = (
        "a.id, a.key, a.title, a.text, a.url, a.outlet, a.published, a.country, a.language,"
        " a.author, a.source, (SELECT count(*) FROM passages p WHERE p.article_id = a.id)"
    )

    @staticmethod
    def _article(row: Sequence[object]) -> Article:
        return Article(
            id=int(str(row[0])),
            key=str(row[1]),
            title=str(row[2]),
            text=str(row[3]),
            url=row[4] if isinstance(row[4], str) else None,
            outlet=row[5] if isinstance(row[5], str) else None,
            published=_parse_dt(row[6] if isinstance(row[6], str) else None),
            country=row[7] if isinstance(row[7], str) else None,
            language=row[8] if isinstance(row[8], str) else None,
            author=row[9] if isinstance(row[9], str) else None,
            source=str(row[10]),
            passage_count=int(str(row[11])),
        )

    def articles(self, ids: Sequence[int]) -> dict[int, Article]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = (
            self._reader()
            .execute(
                f"SELECT {self._ARTICLE_COLUMNS} FROM articles a WHERE a.id IN ({marks})",
                list(ids),
            )
            .fetchall()
        )
        return {int(r[0]): self._article(r) for r in rows}

    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        rows = (
            self._reader()
            .execute(
                f"SELECT {self._ARTICLE_COLUMNS} FROM articles a"
                " ORDER BY a.published IS NULL, a.published DESC, a.id LIMIT ? OFFSET ?",
                (-1 if limit is None else limit, offset),
            )
            .fetchall()
        )
        return [self._article(r) for r in rows]

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
                f"SELECT {self._ARTICLE_COLUMNS} FROM articles a"
                " WHERE a.id = ? OR a.title LIKE ? ESCAPE '\\'"
                " ORDER BY a.id = ? DESC, a.published IS NULL, a.published DESC LIMIT ?",
                (article_id, pattern, article_id, limit),
            )
            .fetchall()
        )
        return [self._article(r) for r in rows]

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        row = (
            self._reader().execute("SELECT min(published), max(published) FROM articles").fetchone()
        )
        return _parse_dt(row[0]), _parse_dt(row[1])

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
