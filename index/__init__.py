"""geobot's knowledge base: ingestion, chunking, embedding, storage and retrieval.

The public API is what this module exports; everything else is an implementation detail.
Nothing here imports discord or the bot: dependencies point one way, ``bot -> index``.

The names are loaded on first use (PEP 562), so that importing one light module of the
package (``index.config``, ``index.errors``) does not pull in FAISS, numpy and the parsers:
``geobot --help`` and a cold ``geobot ask`` pay only for what they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.config import Config, load_config
    from index.embedding.embedder import Embedder
    from index.embedding.sentence_transformer import SentenceTransformerEmbedder
    from index.errors import (
        BadInputError,
        ConfigError,
        DamagedStoreError,
        EmbeddingError,
        GeobotError,
        ModelMismatchError,
        NotFoundError,
        QueryError,
        StoreError,
    )
    from index.knowledge_base import KnowledgeBase, SearchMode
    from index.models import (
        Article,
        FailedInput,
        IngestReport,
        ParsedArticle,
        Passage,
        SearchHit,
        Span,
        StoreStats,
    )

_WHERE: dict[str, str] = {
    "Article": "index.models",
    "BadInputError": "index.errors",
    "Config": "index.config",
    "ConfigError": "index.errors",
    "DamagedStoreError": "index.errors",
    "Embedder": "index.embedding.embedder",
    "EmbeddingError": "index.errors",
    "FailedInput": "index.models",
    "GeobotError": "index.errors",
    "IngestReport": "index.models",
    "KnowledgeBase": "index.knowledge_base",
    "ModelMismatchError": "index.errors",
    "NotFoundError": "index.errors",
    "ParsedArticle": "index.models",
    "Passage": "index.models",
    "QueryError": "index.errors",
    "SearchHit": "index.models",
    "SearchMode": "index.knowledge_base",
    "SentenceTransformerEmbedder": "index.embedding.sentence_transformer",
    "Span": "index.models",
    "StoreError": "index.errors",
    "StoreStats": "index.models",
    "load_config": "index.config",
}

__all__ = [
    "Article",
    "BadInputError",
    "Config",
    "ConfigError",
    "DamagedStoreError",
    "Embedder",
    "EmbeddingError",
    "FailedInput",
    "GeobotError",
    "IngestReport",
    "KnowledgeBase",
    "ModelMismatchError",
    "NotFoundError",
    "ParsedArticle",
    "Passage",
    "QueryError",
    "SearchHit",
    "SearchMode",
    "SentenceTransformerEmbedder",
    "Span",
    "StoreError",
    "StoreStats",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
