"""Document frequencies counted in a sample of passages (the Milvus backend's rarity), and
the count of passages they need, read once per question."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from corpus import CORPUS
from fakes import HashingEmbedder

from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from index import Config, KnowledgeBase
from index.config import StorageConfig
from index.storage.milvus_backend import MilvusBackend
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


def test_a_total_handed_in_is_used_and_not_counted_again() -> None:
    texts = [("Russia " if i % 4 == 0 else "") + f"report {i}" for i in range(1000)]
    library = Library(texts)
    asked: list[int] = []

    def count() -> int:
        asked.append(1)
        return library.count()

    frequencies = SampledTermFrequencies(library.read_sample, count, sample_size=100)
    assert frequencies.frequency("russia", total=2000) == 500  # 25 in 100, of 2,000
    assert frequencies.frequency("report", total=2000) == 2000
    assert asked == []
    assert frequencies.frequency("russia") == 250  # without: counted
    assert len(asked) == 1


def test_a_question_on_milvus_counts_the_passages_once(data_dir: Path) -> None:
    # Every uncached question word needs the library's size: read once per question,
    # not once in the answer and again in the sampler, nor once per word.
    config = Config(data_dir=data_dir, storage=StorageConfig(backend="milvus"))
    with KnowledgeBase.open(config, HashingEmbedder(dimension=256)) as kb:
        kb.ingest_articles(CORPUS)
        store = kb.store
        assert isinstance(store, MilvusBackend)
        counts: list[str] = []
        collections = store.collections
        original = collections.request

        def request(method: str, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("output_fields") == ["count(*)"]:
                counts.append(str(args[0]))
            return original(method, *args, **kwargs)

        collections.request = request  # type: ignore[method-assign]
        as_of = date(2024, 4, 17)
        service = AnswerService(kb, AnswerConfig(min_confidence=0.3), today=lambda: as_of)
        answer = service.ask("What did the mediators propose in the ceasefire talks in Cairo?")
        assert not answer.declined
        assert counts == [store.passages_name]
        counts.clear()
        service.ask("What did the mediators propose in the ceasefire talks in Cairo?")
        assert counts == []  # every word's rarity cached: no count at all
