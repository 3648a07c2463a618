"""What the knowledge base needs from a storage backend, and the factory that picks one.

A backend keeps articles, their passages with the passages' vectors, and answers the
searches over them: dense (inner product over the vectors), keyword (bm25) and, where the
engine has one, its own hybrid search. Every search filters by date, outlet and country
inside the engine, so a filtered search still returns k hits.

Two backends implement it, picked by ``[storage] backend`` (:mod:`index.storage.factory`):

- ``sqlite`` (the default): SQLite + FTS5, the source of truth, with FAISS as a
  rebuildable cache (:mod:`index.storage.sqlite_backend`);
- ``milvus``: Milvus, embedded (Milvus Lite, a local path) or a server or cluster (an
  ``http://`` address) (:mod:`index.storage.milvus_backend`, needs ``geobot[milvus]``).

Writes go through :meth:`StorageBackend.writing`: a session in which each article is
looked up and stored with its passages. What a session promises is the same everywhere:
when it ends normally its articles are stored; when it is interrupted at any point (an
exception, a killed process) nothing committed before is lost and no search returns a
passage that is not of a stored article's current text. How each backend keeps it is said
in its module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from index.config import SearchConfig
from index.models import Article, Passage
from index.storage.rows import ArticleFilter, ArticleRecord, ArticleRow, NewPassage

if TYPE_CHECKING:
    from index.storage.sqlite_store import SQLiteStore

__all__ = [
    "ExportedArticle",
    "StorageBackend",
    "WriteSession",
]

Vectors = npt.NDArray[np.float32]
Ranking = list[tuple[int, float]]


class WriteSession(ABC):
    """Writes of one batch; what it stores is committed when the session ends normally.

    A backend may hold stored articles back and write several in one request (Milvus
    does): an article is stored by the end of the session, not necessarily on return
    from :meth:`store_article`.
    """

    @abstractmethod
    def find_article(self, key: str) -> ArticleRow | None:
        """The stored article of this key, as the session sees it now (its own writes
        included)."""

    def find_articles(self, keys: Sequence[str]) -> dict[str, ArticleRow]:
        """`find_article` of several keys (those stored): a backend that can look them up
        in one request overrides this."""
        found = {key: self.find_article(key) for key in keys}
        return {key: row for key, row in found.items() if row is not None}

    @abstractmethod
    def store_article(self, record: ArticleRecord, passages: Sequence[NewPassage] | None) -> None:
        """Add or replace an article. `passages` replace the stored ones; None keeps them
        (only the article's metadata changed)."""


@dataclass(frozen=True, eq=False)
class ExportedArticle:
    """A stored article with its passages and their vectors (what a migration copies);
    `vectors` holds one row per passage, in the order of `passages`."""

    article: Article
    content_hash: str
    metadata_hash: str
    passages: Sequence[Passage]
    vectors: Vectors


class StorageBackend(ABC):
    """Articles, passages and vectors, and the searches over them."""

    #: the `[storage] backend` name
    name: str = ""
    #: whether `hybrid_search` is the engine's own (else the knowledge base fuses)
    native_hybrid: bool = False

    # -- lifecycle and model ------------------------------------------------------------

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> StorageBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A stored setting (``model``, ``dimension``) of the library."""

    @abstractmethod
    def set_meta(self, values: dict[str, str]) -> None:
        """Store settings, committed at once."""

    @abstractmethod
    def attach_vectors(self, dimension: int, *, stored_vectors_usable: bool) -> None:
        """Make the vectors searchable; with `stored_vectors_usable` False (they are of
        another model, before `reindex`), search none of them."""

    @abstractmethod
    def prepare_reembedding(self, dimension: int) -> None:
        """Before `reindex` with another model writes every article again."""

    @abstractmethod
    def rebuild_vector_index(self) -> None:
        """Rebuild the vector index from the stored vectors (a no-op where the engine
        maintains it)."""

    # -- writing ------------------------------------------------------------------------

    @abstractmethod
    def writing(self, *, final: bool, bulk: bool = False) -> AbstractContextManager[WriteSession]:
        """A write session. `final`: the last of a run (a backend may persist caches
        then); `bulk`: the caller rebuilds the vector index afterwards."""

    @abstractmethod
    def delete_article(self, article_id: int) -> None:
        """Delete an article with its passages, vectors and keyword entries."""

    # -- searching ----------------------------------------------------------------------

    @abstractmethod
    def dense_search(self, vector: Vectors, k: int, where: ArticleFilter) -> Ranking:
        """(passage id, inner product), best first."""

    @abstractmethod
    def keyword_search(
        self, query: str, k: int, where: ArticleFilter, settings: SearchConfig
    ) -> Ranking:
        """(passage id, bm25 score: higher is better), best first."""

    def hybrid_search(
        self,
        query: str,
        vector: Vectors,
        k: int,
        where: ArticleFilter,
        settings: SearchConfig,
    ) -> list[tuple[int, float, float | None, float | None]]:
        """The engine's own fusion: (passage id, fused score, dense, keyword); only
        called where `native_hybrid`."""
        raise NotImplementedError

    # -- reading ------------------------------------------------------------------------

    @abstractmethod
    def find_article(self, key: str) -> ArticleRow | None: ...

    @abstractmethod
    def article_id(self, key: str) -> int | None:
        """The id of the stored article with this key."""

    @abstractmethod
    def passages(self, ids: Sequence[int]) -> dict[int, Passage]:
        """The passages of these ids that are of their article's current text (a backend
        without transactions may briefly hold others, of an interrupted write)."""

    def passages_with_articles(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, Passage], dict[int, Article]]:
        """`passages(ids)` and their articles (what a search's hits show)."""
        passages = self.passages(ids)
        return passages, self.articles(sorted({p.article_id for p in passages.values()}))

    @abstractmethod
    def passages_of(self, article_id: int) -> list[Passage]: ...

    @abstractmethod
    def passage_vectors(self, ids: Sequence[int]) -> dict[int, Vectors]: ...

    @abstractmethod
    def articles(self, ids: Sequence[int]) -> dict[int, Article]: ...

    @abstractmethod
    def list_articles(self, *, limit: int | None = None, offset: int = 0) -> list[Article]:
        """Newest first (undated last)."""

    @abstractmethod
    def find_articles(self, text: str, *, limit: int = 25) -> list[Article]:
        """Articles whose title contains `text`, or whose id it is; newest first."""

    def article_titles(self) -> list[tuple[int, str, datetime | None]]:
        """Every article's id, title and date, newest first (what an in-memory
        autocomplete list needs). A backend that can skip the texts overrides this."""
        return [(a.id, a.title, a.published) for a in self.list_articles()]

    def passage_ids_where(self, where: ArticleFilter) -> list[int]:
        """The ids of every passage of the articles `where` admits (a day's briefing).
        A backend that can filter inside its store overrides this."""
        return [
            passage.id
            for article in self.list_articles()
            if where.admits(article)
            for passage in self.passages_of(article.id)
        ]

    @abstractmethod
    def document_frequency(self, term: str, *, passage_count: int | None = None) -> int:
        """How many passages hold `term`, as keyword search reads it. `passage_count`:
        the library's size, when the caller has just read it (a backend that estimates
        from it then does not count again)."""

    @abstractmethod
    def article_count(self) -> int: ...

    @abstractmethod
    def passage_count(self) -> int: ...

    @abstractmethod
    def vector_count(self) -> int:
        """How many vectors the searches see."""

    @abstractmethod
    def index_description(self) -> str:
        """The vector index type, as `geobot stats` shows it."""

    @abstractmethod
    def date_span(self) -> tuple[datetime | None, datetime | None]: ...

    @abstractmethod
    def outlet_counts(self) -> list[tuple[str, int]]: ...

    @abstractmethod
    def disk_bytes(self) -> int:
        """Bytes on this machine's disk (0 for a remote server)."""

    @abstractmethod
    def export_articles(self, batch: int = 64) -> Iterator[ExportedArticle]:
        """Every stored article with its passages and vectors, for a migration."""

    @property
    @abstractmethod
    def state_database(self) -> SQLiteStore:
        """The SQLite database of this data folder's own state (feeds)."""
