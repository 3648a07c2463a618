"""The interface the knowledge base needs from an embedding model.

The knowledge base only sees the :class:`Embedder` protocol, so tests pass a small
deterministic fake and users can configure any sentence-transformers model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors"]

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """What the knowledge base needs from an embedding model."""

    @property
    def model_id(self) -> str:
        """A stable name of the model, recorded in the store that its vectors built."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The model's window in word pieces, special tokens included."""
        ...

    @property
    def special_tokens(self) -> int:
        """How many special tokens the model adds to every text (2 for BERT: [CLS], [SEP])."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without special tokens."""
        ...

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Unit-length float32 vectors, one row per text."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One unit-length float32 vector, shape (dimension,)."""
        ...
