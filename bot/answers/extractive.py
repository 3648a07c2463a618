"""The offline answerer: choose the retrieved sentences that answer the question.

A sentence is scored by how much of the question it covers (question terms weighted by
their rarity in the whole library, so "Kishida" counts far more than "said"), by how
similar its passage is to the question, and by whether it holds the kind of thing asked
for (a number for "how many", a name for "who"). Near-duplicates are skipped, a word
budget keeps the answer short, and the chosen sentences are grouped by source and put
back in their order in the article, so the answer reads as connected prose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

from bot.answers.citations import Quote
from bot.answers.retrieval import RankedPassage
from bot.answers.text import content_terms, is_link_line, stem, stems, word_count, words

__all__ = ["ScoredSentence", "TermWeights", "select_sentences"]

_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|"
    r"thousand|million|billion|trillion|percent)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")
_DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|\d{4})\b"
)
MIN_WORDS = 4
MAX_WORDS = 90


@dataclass(frozen=True)
class TermWeights:
    """Question terms (stemmed) and their weights."""

    weights: dict[str, float]
    own_total: float  # the weight of the question's own terms, without the context

    @classmethod
    def build(
        cls,
        question: str,
        context: Sequence[str],
        rarity: Callable[[str], float],
    ) -> TermWeights:
        weights: dict[str, float] = {}
        for term in content_terms(question):
            weights[stem(term)] = max(weights.get(stem(term), 0.0), rarity(term))
        own_total = sum(weights.values())
        for earlier in context:
            # Terms of earlier turns say what "they" or "it" refer to: they count, less.
            for term in content_terms(earlier):
                weights.setdefault(stem(term), 0.5 * rarity(term))
        return cls(weights, own_total)

    def coverage(self, sentence_terms: Set[str]) -> float:
        """The share of the question a sentence covers; context terms add to it, up to 1,
        but never dilute it, so a follow-up is not judged by its predecessors' words."""
        total = self.own_total or sum(self.weights.values())
        if total <= 0:
            return 0.0
        matched = sum(w for t, w in self.weights.items() if t in sentence_terms)
        return min(1.0, matched / total)


@dataclass(frozen=True)
class ScoredSentence:
    quote: Quote
    score: float
    coverage: float
    passage_rank: int


def _expected_kind_bonus(question: str, sentence: str) -> float:
    lowered = question.lower()
    if re.search(r"\bhow (?:many|much|long|old|far)\b|\bpercent|\bnumber of\b", lowered):
        return 0.08 if _NUMBER.search(sentence) else 0.0
    if re.search(r"\bwhen\b|\bwhat (?:year|date|day|month)\b", lowered):
        return 0.08 if _DATE.search(sentence) else 0.0
    if re.search(r"\bwho\b|\bwhich (?:country|company|team|city|person|nation|leader)", lowered):
        return 0.05 if _NAME.search(sentence) else 0.0
    return 0.0


def score_sentences(
    question: str,
    passages: Sequence[RankedPassage],
    weights: TermWeights,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> list[ScoredSentence]:
    scored: list[ScoredSentence] = []
    seen_spans: set[tuple[int, int, int]] = set()
    for rank, ranked in enumerate(passages):
        article = ranked.hit.article
        passage = ranked.hit.passage
        for span in passage.sentences:
            key = (article.id, span.start, span.end)
            if key in seen_spans or (article.id, span.start) in exclude:
                # Overlapping passages share a sentence; `exclude` holds those already
                # shown in the conversation.
                continue
            seen_spans.add(key)
            text = article.text[span.start : span.end]
            n_words = word_count(text)
            if n_words < MIN_WORDS or is_link_line(text):
                continue
            terms = stems(text)
            coverage = weights.coverage(terms)
            relevance = (
                0.6 * coverage
                + 0.4 * max(ranked.similarity, 0.0)
                + _expected_kind_bonus(question, text)
                - 0.01 * rank
                - (0.1 if n_words > MAX_WORDS else 0.0)
            )
            # Date preferences (inside the asked-about window; newer for "latest")
            # scale relevance, as they scale the passage's retrieval score.
            score = relevance * ranked.date_factor
            scored.append(
                ScoredSentence(Quote(article, passage, span.start, span.end), score, coverage, rank)
            )
    scored.sort(key=lambda s: -s.score)
    return scored


def _shingles(text: str) -> set[str]:
    return {stem(w) for w in words(text) if len(w) > 2}


def select_sentences(
    question: str,
    passages: Sequence[RankedPassage],
    weights: TermWeights,
    *,
    word_budget: int,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> list[ScoredSentence]:
    """The sentences of the answer, in reading order (by source, then article position).

    `exclude` names sentences (article id, start) not to repeat.
    """
    candidates = score_sentences(question, passages, weights, exclude)
    if not candidates:
        return []
    best = candidates[0]
    chosen: list[ScoredSentence] = []
    chosen_shingles: list[set[str]] = []
    words_used = 0
    for candidate in candidates:
        if chosen and candidate.coverage == 0.0:
            break  # what is left mentions nothing of the question
        if chosen and candidate.score < 0.55 * best.score:
            break
        n_words = word_count(candidate.quote.text)
        if chosen and words_used + n_words > word_budget:
            continue
        shingles = _shingles(candidate.quote.text)
        if any(_jaccard(shingles, other) >= 0.6 for other in chosen_shingles):
            continue  # the same fact in another outlet's words
        chosen.append(candidate)
        chosen_shingles.append(shingles)
        words_used += n_words
        if words_used >= word_budget:
            break
    source_order: dict[int, int] = {}
    for sentence in chosen:
        source_order.setdefault(sentence.quote.article.id, len(source_order))
    chosen.sort(key=lambda s: (source_order[s.quote.article.id], s.quote.start))
    return chosen


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def rarity_from_frequency(document_frequency: int, total: int) -> float:
    """Inverse document frequency, smoothed, never negative."""
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))
