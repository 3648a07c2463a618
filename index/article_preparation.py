"""Articles made ready to store: keyed, compared with what is stored, split into passages,
with the texts to embed for them.

The knowledge base prepares an article outside any transaction (chunking and embedding
are the slow part) and writes it later, inside one; :class:`PreparedArticle` is what
travels between the two, :meth:`ArticlePreparer.reconciled` what makes it right for what
is stored by then (another process may have written the same article meanwhile), and
:class:`WriteTally` what the writes did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from index.article_identity import article_key, content_digest, metadata_digest
from index.config import ChunkingConfig
from index.embedding.embedder import Embedder
from index.errors import BadInputError
from index.models import ParsedArticle
from index.passages.chunking import Chunk, chunk_sentences
from index.passages.sentences import split_sentences
from index.sources.outlets import OutletTable
from index.storage.rows import ArticleRow

__all__ = [
    "TITLE_TOKEN_CAP",
    "ArticlePreparer",
    "PreparedArticle",
    "WriteTally",
    "embedding_text",
]

Vectors = npt.NDArray[np.float32]

TITLE_TOKEN_CAP = 32


def embedding_text(title: str, passage: str, *, include_title: bool) -> str:
    """The text embedded for a passage: the title gives a passage its topic."""
    return f"{title}\n{passage}" if include_title and title else passage


@dataclass(frozen=True)
class PreparedArticle:
    """An article parsed, keyed and (unless only its metadata changed) chunked, waiting
    for its vectors. `existing_id` is the stored article it replaces, as last seen."""

    parsed: ParsedArticle
    key: str
    existing_id: int | None
    content_hash: str
    metadata_hash: str
    chunks: tuple[Chunk, ...] = ()
    embed_texts: tuple[str, ...] = ()

    def is_stored_as(self, stored: ArticleRow | None) -> bool:
        """Whether `stored` already holds this very article, text and metadata."""
        return stored is not None and (stored.content_hash, stored.metadata_hash) == (
            self.content_hash,
            self.metadata_hash,
        )


@dataclass
class WriteTally:
    """What writes did to articles, and how many passages they embedded."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    embedded: int = 0

    def add(self, other: WriteTally) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.embedded += other.embedded


@dataclass
class ArticlePreparer:
    """Keys articles and splits them into passages that fit the embedder's window."""

    settings: ChunkingConfig
    embedder: Embedder = field(repr=False)
    outlets: OutletTable = field(repr=False)

    def prepare(
        self, parsed: ParsedArticle, find_stored: Callable[[str], ArticleRow | None]
    ) -> PreparedArticle | None:
        """`parsed` ready to write, or None when it is stored already, unchanged.
        `find_stored(key)` is the stored article of that key."""
        if not parsed.text.strip():
            raise BadInputError(parsed.source, "no article text")
        parsed = self.outlets.complete(parsed)
        key = article_key(parsed)
        content_hash = content_digest(parsed)
        metadata_hash = metadata_digest(parsed)
        existing = find_stored(key)
        if existing is not None and existing.content_hash == content_hash:
            if existing.metadata_hash == metadata_hash:
                return None
            # Only the metadata changed: no need to embed again.
            return PreparedArticle(parsed, key, existing.id, content_hash, metadata_hash)
        existing_id = existing.id if existing else None
        return self.prepared(parsed, key, existing_id, content_hash, metadata_hash)

    def reconciled(
        self,
        prepared: PreparedArticle,
        vectors: Vectors,
        stored: ArticleRow | None,
        tally: WriteTally,
    ) -> tuple[PreparedArticle, Vectors]:
        """`prepared` and its passages' vectors, made right for what is `stored` now
        (inside the write transaction; `prepared.is_stored_as(stored)` is False)."""
        existing_id = stored.id if stored is not None else None
        if stored is not None and stored.content_hash == prepared.content_hash:
            # The stored passages are of this very text: only the metadata changes.
            unchunked = replace(prepared, existing_id=existing_id, chunks=(), embed_texts=())
            return unchunked, vectors[:0]
        if prepared.chunks:
            return replace(prepared, existing_id=existing_id), vectors
        # It was prepared as a metadata change, but another process has since removed the
        # article or changed its text: its passages must be made after all.
        redone = self.prepared(
            prepared.parsed,
            prepared.key,
            existing_id,
            prepared.content_hash,
            prepared.metadata_hash,
        )
        vectors = self.embedder.embed_documents(redone.embed_texts)
        tally.embedded += len(vectors)
        return redone, vectors

    def prepared(
        self,
        parsed: ParsedArticle,
        key: str,
        existing_id: int | None,
        content_hash: str,
        metadata_hash: str,
    ) -> PreparedArticle:
        """The article split into passages, with the texts to embed for them."""
        chunks = self.chunk(parsed.title, parsed.text)
        if not chunks:
            raise BadInputError(parsed.source, "no sentences found in the article text")
        title = self.embedding_title(parsed.title)
        include_title = self.settings.include_title
        texts = [
            embedding_text(title, parsed.text[c.start : c.end], include_title=include_title)
            for c in chunks
        ]
        return PreparedArticle(
            parsed, key, existing_id, content_hash, metadata_hash, tuple(chunks), tuple(texts)
        )

    def embedding_title(self, title: str) -> str:
        # The title rides along with every passage; cap it so it cannot crowd them out.
        spans = self.embedder.token_spans(title)
        return title if len(spans) <= TITLE_TOKEN_CAP else title[: spans[TITLE_TOKEN_CAP - 1][1]]

    def chunk(self, title: str, text: str) -> list[Chunk]:
        settings = self.settings
        window = settings.max_tokens or self.embedder.max_tokens
        window = min(window, self.embedder.max_tokens)
        reserved = self.embedder.special_tokens
        if settings.include_title and title:
            # +1 for the line break between title and passage, which some tokenizers keep.
            reserved += len(self.embedder.token_spans(self.embedding_title(title))) + 1
        return chunk_sentences(
            text,
            split_sentences(text),
            count_tokens=self.embedder.count_tokens,
            token_spans=self.embedder.token_spans,
            budget=max(window - reserved, 16),
            target=settings.target_tokens,
            overlap=settings.overlap_sentences,
        )
