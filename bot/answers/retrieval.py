"""Retrieval for answers: hybrid search, date preferences, then diversity.

The knowledge base ranks passages; here the ranking learns about time (sources inside the
question's dates or, for "latest", newer sources move up; undated sources are kept) and
about redundancy (maximal marginal relevance on the stored passage vectors, so five hits
are not five copies of one wire story).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import numpy as np

from bot.answers.source_policy import SourcePolicy
from bot.answers.timewindow import TimeWindow
from bot.config import AnswerConfig
from index import KnowledgeBase, SearchHit, SearchMode

__all__ = ["RankedPassage", "RetrievalRequest", "Retriever"]


@dataclass(frozen=True)
class RankedPassage:
    """A retrieved passage with the scores the answerer needs."""

    hit: SearchHit
    score: float  # the final ranking score (fusion, dates, diversity order)
    similarity: float  # cosine between the question and the passage
    in_window: bool | None  # None: no preferred window, or the source is undated
    vector: np.ndarray
    date_factor: float = 1.0  # how much the question's dates favour this source


@dataclass(frozen=True)
class RetrievalRequest:
    query: str
    as_of: date
    mode: SearchMode = "hybrid"
    since: date | None = None  # strict
    until: date | None = None  # strict
    outlet: str | None = None
    country: str | None = None
    preferred: TimeWindow | None = None  # soft
    prefer_recent: bool = False


def _start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day else None


def _end(day: date | None) -> datetime | None:
    return datetime.combine(day, time.max) if day else None


class Retriever:
    def __init__(
        self, kb: KnowledgeBase, config: AnswerConfig, sources: SourcePolicy | None = None
    ) -> None:
        self._kb = kb
        self._config = config
        self._sources = sources or SourcePolicy()

    def retrieve(
        self, request: RetrievalRequest, *, keep: int | None = None
    ) -> list[RankedPassage]:
        """The passages to answer from, best first, diverse, at most `keep`."""
        config = self._config
        query_vector = self._kb.embedder.embed_query(request.query)
        search = {
            "mode": request.mode,
            "since": _start(request.since),
            "until": _end(request.until),
            "outlet": request.outlet,
            "country": request.country,
            "query_vector": query_vector,
        }
        # Left-out sources are dropped from the results, so ask for more of them.
        candidates = config.candidates * (2 if self._sources.active else 1)
        hits = self._kb.search(request.query, k=candidates, **search)  # type: ignore[arg-type]
        window = request.preferred
        if window is not None and not (request.since or request.until):
            # Also search inside the window, so a source from the asked-about dates is a
            # candidate even when older or newer ones crowd it out of the overall ranking.
            inside = self._kb.search(
                request.query,
                k=max(config.candidates // 2, 5),
                **{
                    **search,
                    "since": _start(window.since),
                    "until": _end(window.until),
                },  # type: ignore[arg-type]
            )
            known = {h.passage.id for h in hits}
            hits = hits + [h for h in inside if h.passage.id not in known]
        hits = [h for h in hits if not self._sources.excludes(h.article)]
        if not hits:
            return []
        vectors = self._kb.passage_vectors([h.passage.id for h in hits])
        ranked = [
            self._score(hit, position, vectors[hit.passage.id], query_vector, request)
            for position, hit in enumerate(sorted(hits, key=lambda h: -h.score))
        ]
        ranked.sort(key=lambda r: -r.score)
        return self._diversify(ranked, keep or config.passages)

    def _score(
        self,
        hit: SearchHit,
        position: int,
        vector: np.ndarray,
        query_vector: np.ndarray,
        request: RetrievalRequest,
    ) -> RankedPassage:
        config = self._config
        similarity = float(np.dot(vector, query_vector))
        # Rank-based base score (the fused scores of the two searches are not on one
        # scale), nudged by the semantic similarity to break near-ties.
        score = 1.0 / (10 + position) + 0.02 * similarity
        date_factor = 1.0
        published = hit.article.published.date() if hit.article.published else None
        in_window: bool | None = None
        window = request.preferred
        if window is not None and published is not None:
            in_window = window.contains(published)
            if in_window:
                date_factor *= 1.0 + config.window_boost
        if published is not None and (window is None or request.prefer_recent):
            # News questions are about the present of their asker: newer sources are
            # preferred a little when the question names no dates, and strongly for
            # "latest"/"current". A source dated after the as-of day is no evidence of
            # that day's present.
            age = (request.as_of - published).days
            if age >= 0:
                weight = config.recency_weight * (2.0 if request.prefer_recent else 1.0)
                date_factor *= 1.0 + weight * math.pow(0.5, age / config.recency_half_life_days)
        if self._sources.prefers(hit.article):
            score *= 1.0 + self._sources.prefer_boost
        return RankedPassage(hit, score * date_factor, similarity, in_window, vector, date_factor)

    def _diversify(self, ranked: Sequence[RankedPassage], keep: int) -> list[RankedPassage]:
        """Maximal marginal relevance; passages nearly identical to a chosen one are dropped."""
        if not ranked:
            return []
        config = self._config
        vectors = np.stack([r.vector for r in ranked])
        # Every pair's similarity at once: one matrix product instead of a Python loop
        # over (candidate, chosen) pairs, which cost milliseconds per question.
        similarity = vectors @ vectors.T
        relevance = np.array([r.score for r in ranked]) / ranked[0].score
        redundancy = np.zeros(len(ranked))  # the closest chosen passage, at least 0
        available = np.ones(len(ranked), dtype=bool)
        chosen: list[RankedPassage] = []
        while len(chosen) < keep and available.any():
            value = config.mmr_lambda * relevance - (1 - config.mmr_lambda) * redundancy
            value[~available] = -math.inf
            best = int(np.argmax(value))  # the first of equals, as ranked
            chosen.append(ranked[best])
            available[best] = False
            available &= similarity[best] < config.duplicate_similarity
            np.maximum(redundancy, similarity[best], out=redundancy)
        return chosen
