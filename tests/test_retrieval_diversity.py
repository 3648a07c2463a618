"""Diversity of the passages an answer is drawn from: copies of one story are dropped, and
maximal marginal relevance trades relevance against likeness to what was already chosen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import numpy as np
import pytest
from corpus import news_article
from fakes import HashingEmbedder

from bot.answers.retrieval import RankedPassage, RetrievalRequest, Retriever
from bot.config import AnswerConfig
from index import Config, KnowledgeBase

AS_OF = date(2024, 4, 17)
WEEK = datetime(2024, 4, 15, 9, 0)
WIRE_STORY = (
    "The drought summit in Nairobi ended with a pledge of money for water projects across "
    "the region, ministers said."
)
ARTICLES = [
    news_article("wire-a", "Drought summit", WIRE_STORY, WEEK, "Wire One"),
    news_article("wire-b", "Drought summit ends", WIRE_STORY, WEEK, "Gulf Daily"),
    news_article(
        "ministers",
        "Ministers meet",
        "Ministers from twelve countries met at the drought summit in Nairobi on Monday.",
        WEEK,
        "Le Journal",
    ),
    news_article(
        "farmers",
        "Farmers wait",
        "Farmers near Nairobi said the drought had killed their cattle and dried the wells.",
        WEEK,
        "Kyiv Post",
    ),
    news_article(
        "water",
        "Water projects",
        "Water projects pledged at the summit include wells, dams and pipelines for the region.",
        WEEK,
        "Tech Wire",
    ),
]
QUESTION = "What was pledged at the drought summit in Nairobi?"


@pytest.fixture
def store(config: Config) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    kb.ingest_articles(ARTICLES)
    yield kb
    kb.close()


def _retrieve(kb: KnowledgeBase, keep: int = 10, **settings: float) -> list[RankedPassage]:
    retriever = Retriever(kb, AnswerConfig(**settings))  # type: ignore[arg-type]
    return retriever.retrieve(RetrievalRequest(QUESTION, as_of=AS_OF), keep=keep)


def _similarity(a: RankedPassage, b: RankedPassage) -> float:
    return float(np.dot(a.vector, b.vector))


def test_copies_of_one_story_are_answered_from_once(store: KnowledgeBase) -> None:
    passages = _retrieve(store)
    urls = [p.hit.article.url or "" for p in passages]
    copies = [u for u in urls if u.endswith(("/wire-a", "/wire-b"))]
    assert len(copies) == 1
    assert {"https://news.example/ministers", "https://news.example/water"} <= set(urls)
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            assert _similarity(a, b) < AnswerConfig().duplicate_similarity


def test_at_most_keep_passages_and_the_best_first(store: KnowledgeBase) -> None:
    everything = _retrieve(store, mmr_lambda=1.0)
    assert len(everything) >= 3
    # Relevance alone: the order of the scores, best first.
    assert [p.score for p in everything] == sorted((p.score for p in everything), reverse=True)
    two = _retrieve(store, keep=2)
    assert len(two) == 2
    assert two[0].hit.passage.id == everything[0].hit.passage.id


def test_without_relevance_the_next_passage_is_the_least_like_those_chosen(
    store: KnowledgeBase,
) -> None:
    passages = _retrieve(store, mmr_lambda=0.0)
    assert len(passages) >= 3
    for position in range(1, len(passages)):
        chosen, picked, rest = passages[:position], passages[position], passages[position + 1 :]

        def likeness(p: RankedPassage, chosen: list[RankedPassage] = chosen) -> float:
            return max(max(_similarity(p, c) for c in chosen), 0.0)

        assert all(likeness(picked) <= likeness(other) + 1e-6 for other in rest)
