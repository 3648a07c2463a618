"""Document frequencies counted in a sample of passages (the Milvus backend's rarity)."""

from __future__ import annotations

import pytest

from index.storage.term_frequencies import SampledTermFrequencies


class Library:
    """Passage texts, and how often the sample was read."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.reads: list[int] = []

    def read_sample(self, size: int) -> list[str]:
        self.reads.append(size)
        return self.texts[:size]

    def count(self) -> int:
        return len(self.texts)


def exact(texts: list[str], word: str) -> int:
    return sum(1 for t in texts if word in t.lower().split())


TEXTS = [
    "Ukraine and Russia talk in Istanbul",
    "The talks in Istanbul stall",
    "Russia shells Kharkiv",
    "The Fed holds rates",
]


def test_a_library_that_fits_in_the_sample_gets_exact_counts() -> None:
    library = Library(list(TEXTS))
    frequencies = SampledTermFrequencies(library.read_sample, library.count, sample_size=10)
    for word in ("russia", "istanbul", "the", "kharkiv", "rates", "absent"):
        assert frequencies.frequency(word) == exact(TEXTS, word)
    # Any word of a several-word term counts a passage once.
    assert frequencies.frequency("Kharkiv Istanbul") == 3
    assert frequencies.frequency("...") == 0
    assert library.reads == [10]  # read once, then counted in memory


def test_an_exact_sample_is_read_again_as_soon_as_the_library_changes() -> None:
    library = Library(list(TEXTS))
    frequencies = SampledTermFrequencies(library.read_sample, library.count, sample_size=10)
    assert frequencies.frequency("russia") == 2
    library.texts.append("Russia and China sign a deal")
    assert frequencies.frequency("russia") == 3
    assert len(library.reads) == 2


def test_a_larger_library_gets_its_sample_scaled_up_and_resampled_after_growth() -> None:
    # 1,000 passages, one in four about Russia; the sample reads the first 100.
    texts = [("Russia " if i % 4 == 0 else "") + f"report number {i}" for i in range(1000)]
    library = Library(texts)
    frequencies = SampledTermFrequencies(library.read_sample, library.count, sample_size=100)
    assert frequencies.frequency("russia") == 250
    assert frequencies.frequency("report") == 1000
    library.texts.extend(f"more news {i}" for i in range(50))  # 5% more: the sample holds
    assert frequencies.frequency("russia") == round(25 * 1050 / 100)
    assert len(library.reads) == 1
    library.texts.extend(f"more news {i}" for i in range(100))  # now 15% more: read again
    frequencies.frequency("russia")
    assert len(library.reads) == 2


def test_rejects_an_empty_sample_size() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        SampledTermFrequencies(lambda n: [], lambda: 0, sample_size=0)
