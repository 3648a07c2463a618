"""geobot's knowledge base: ingestion, chunking, embedding, storage and retrieval.

The public API is what this module exports; everything else is an implementation detail.
Nothing here imports discord or the bot: dependencies point one way, ``bot -> index``.
"""

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
