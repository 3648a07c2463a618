"""How many passages hold a word, from a sample of them kept in memory.

The answer weighs each question word by its rarity, which needs the number of passages
holding it. SQLite answers that from FTS5's index at once; Milvus has no such count, and
a ``TEXT_MATCH`` count over every passage took about 5 s per word in Milvus Lite at
37,264 passages (so a minute per question). Rarity only needs to be about right, so a
backend without a cheap count asks this class instead. It reads up to `sample_size`
passages once and counts in them. A library no larger than that is read whole, so its
counts are exact. A larger one gets its sample's count scaled up to the library's size.
The sample is read again when the library has changed size: at once while it is read whole,
or after 10% growth or shrinkage otherwise.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence

from index.storage.keyword_query import query_terms, text_words

__all__ = ["SampledTermFrequencies"]

DEFAULT_SAMPLE_SIZE = 5_000
_RESAMPLE_CHANGE = 0.10


class SampledTermFrequencies:
    """Document frequencies over a sample of passage texts. Thread-safe."""

    def __init__(
        self,
        read_sample: Callable[[int], Sequence[str]],
        passage_count: Callable[[], int],
        *,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
    ) -> None:
        """`read_sample(n)` returns the texts of up to `n` stored passages;
        `passage_count()` how many passages are stored."""
        if sample_size < 1:
            raise ValueError(f"sample_size must be >= 1, got {sample_size}")
        self._read_sample = read_sample
        self._passage_count = passage_count
        self._sample_size = sample_size
        self._lock = threading.Lock()
        self._sampled_from: int | None = None  # the library's size when it was sampled
        self._words: list[frozenset[str]] = []
        self._frequency: Counter[str] = Counter()

    def frequency(self, term: str, *, total: int | None = None) -> int:
        """Passages holding any word of `term` (as the keyword search splits it).
        `total`: how many passages are stored, when the caller has just counted them
        (else `passage_count()` is asked)."""
        words = query_terms(term)
        if not words:
            return 0
        if total is None:
            total = self._passage_count()
        with self._lock:
            if self._stale(total):
                self._resample(total)
            if len(words) == 1:
                found = self._frequency[words[0]]
            else:
                wanted = set(words)
                found = sum(1 for held in self._words if not held.isdisjoint(wanted))
            sampled = len(self._words)
        if sampled == 0 or sampled >= total:
            return found
        return round(found * total / sampled)

    def _stale(self, total: int) -> bool:
        if self._sampled_from is None:
            return True
        if self._sampled_from <= self._sample_size:
            # Read whole: exact until the library changes.
            return total != self._sampled_from
        return abs(total - self._sampled_from) > _RESAMPLE_CHANGE * self._sampled_from

    def _resample(self, total: int) -> None:
        texts = self._read_sample(self._sample_size)
        self._words = [frozenset(text_words(text)) for text in texts]
        self._frequency = Counter(word for held in self._words for word in held)
        self._sampled_from = total
