"""The extractive answer before it is numbered and checked: what to quote, the short answer
it opens with, and how much the evidence supports answering at all.

With a short answer (:mod:`bot.answers.short_answer`), the quotes are the one or two
sentences that state it, from different outlets (one per side when sources differ).
Without one, they are the sentences that best match the question, as before
(:func:`bot.answers.extractive.select_sentences`). Either way, the decision to answer or
decline rests on :class:`Evidence`, a handful of features a reader can check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.answer_types import ExpectedAnswer, expected_answer
from bot.answers.candidates import Candidate, find_candidates
from bot.answers.citations import Quote, states
from bot.answers.extractive import ScoredSentence, TermWeights, select_sentences
from bot.answers.models import Evidence, ShortAnswer, Source
from bot.answers.retrieval import RankedPassage
from bot.answers.short_answer import ShortAnswerChoice, back, backing_quotes, choose
from bot.config import AnswerConfig

__all__ = ["MISSING_KIND_PENALTY", "SHORT_ANSWER_BONUS", "Draft", "confidence_of", "draft_answer"]

# Candidates listed in `--json` beside the shown ones.
JSON_CANDIDATES = 5
# What a short answer adds to the confidence, and what a question asking for a kind of
# thing loses when none was found (see confidence_of).
SHORT_ANSWER_BONUS = 0.4
MISSING_KIND_PENALTY = 0.1


def confidence_of(evidence: Evidence) -> float:
    """One number to compare with `[answers] min_confidence`, between 0 and 1: how well
    the best sentence matches the question (`match`, the measure every answer has), plus
    SHORT_ANSWER_BONUS times the short answer's vote and margin, minus
    MISSING_KIND_PENALTY when the question asks for a kind of thing (a place, a number...)
    and no candidate of that kind was found. An open question ("what did they agree
    on?") is judged by its match alone. Both weights and the threshold were chosen on the
    RealTimeQA dev set (bench/calibrate_decline.py; docs/evaluation.md)."""
    value = evidence.match + SHORT_ANSWER_BONUS * evidence.vote * evidence.margin
    if evidence.kind_asked and not evidence.kind_found:
        value -= MISSING_KIND_PENALTY
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class Draft:
    """The quotes of an extractive answer, its short-answer choice and its evidence."""

    quotes: tuple[Quote, ...]
    choice: ShortAnswerChoice
    evidence: Evidence

    @property
    def confidence(self) -> float:
        return confidence_of(self.evidence)

    def short_answers(
        self, sources: Sequence[Source], text: str | None = None
    ) -> tuple[tuple[ShortAnswer, ...], tuple[ShortAnswer, ...], tuple[Source, ...]]:
        """The shown short answers (their backing numbered among `sources`, which grow by
        any backing article not yet cited), every candidate for `--json`, and the sources.

        Given the `text` a model wrote, a short answer is shown only when the text states
        it too, so that the line and the prose under it never say different things."""
        kind = self.choice.expected.kind
        shown: list[ShortAnswer] = []
        listed = tuple(sources)
        showing = self.choice.shown
        if text is not None and not all(states(text, c.text) for c in showing):
            showing = ()
        for candidate in showing:
            short, listed = back(candidate, kind, listed)
            shown.append(short)
        weighed = tuple(
            back(c, kind, listed, numbered=False)[0]
            for c in self.choice.candidates[:JSON_CANDIDATES]
        )
        return tuple(shown), weighed, listed


def _squash(vote: float) -> float:
    """A vote (a sum over outlets of weights up to 1) as 0..1: 1 - e^-vote."""
    return 1.0 - math.exp(-max(vote, 0.0))


def _evidence(
    expected: ExpectedAnswer,
    passages: Sequence[RankedPassage],
    sentences: Sequence[ScoredSentence],
    candidates: Sequence[Candidate],
    shown: Sequence[Candidate],
) -> Evidence:
    similarity = max((p.similarity for p in passages), default=0.0)
    coverage = max((s.coverage for s in sentences), default=0.0)
    match = 0.5 * max(similarity, 0.0) + 0.5 * coverage
    if not shown:
        return Evidence(
            vote=0.0,
            margin=0.0,
            outlets=0,
            match=match,
            kind_asked=expected.specific,
            kind_found=False,
        )
    best = shown[0]
    rival = candidates[1].score if len(candidates) > 1 else 0.0
    return Evidence(
        vote=_squash(best.score),
        margin=best.score / (best.score + rival) if best.score > 0 else 0.0,
        outlets=len(best.outlets),
        match=match,
        kind_asked=expected.specific,
        kind_found=expected.specific,
    )


def draft_answer(
    question: str,
    passages: Sequence[RankedPassage],
    weights: TermWeights,
    config: AnswerConfig,
    *,
    exclude: frozenset[tuple[int, int]] = frozenset(),
) -> Draft:
    """The quotes, short answer and evidence for `question` from its ranked passages."""
    expected = expected_answer(question)
    candidates = find_candidates(question, expected, passages, weights)
    choice = choose(expected, candidates, min_score=config.min_short_answer_vote)
    sentences = select_sentences(
        question,
        passages,
        weights,
        word_budget=config.word_budget,
        exclude=exclude,
    )
    quotes = [s.quote for s in sentences]
    if choice.shown:
        # The sentences that state the short answer (each side's, when sources differ)
        # come first; the best-matching sentences fill the rest of the word budget.
        backing = [q for side in choice.shown for q in backing_quotes(side, 1)]
        # A sentence from outside the question's dates naming another candidate of the
        # asked kind (last year's summit city) would contradict the line: it is left out.
        others = [c for c in candidates if c not in choice.shown]
        stale = {p.hit.article.id for p in passages if p.in_window is False}
        fill = [
            q
            for q in quotes
            if q.article.id not in stale or not any(states(q.text, c.text) for c in others)
        ]
        quotes = _within_budget([*backing, *fill], config.word_budget)
    evidence = _evidence(expected, passages, sentences, candidates, choice.shown)
    if not quotes:
        evidence = Evidence(
            vote=0.0, margin=0.0, outlets=0, match=0.0, kind_asked=False, kind_found=False
        )
    return Draft(tuple(_in_reading_order(quotes)), choice, evidence)


def _within_budget(quotes: Sequence[Quote], word_budget: int) -> list[Quote]:
    """The quotes in order, without repeats, while they fit `word_budget` words (the
    first always)."""
    kept: list[Quote] = []
    seen: set[tuple[int, int]] = set()
    used = 0
    for quote in quotes:
        key = (quote.article.id, quote.start)
        words = len(quote.text.split())
        if key in seen or (kept and used + words > word_budget):
            continue
        kept.append(quote)
        seen.add(key)
        used += words
    return kept


def _in_reading_order(quotes: Sequence[Quote]) -> list[Quote]:
    """Quotes grouped by source (in order of first appearance), each source's in the order
    of its article, so an answer reads as connected prose."""
    order: dict[int, int] = {}
    for quote in quotes:
        order.setdefault(quote.article.id, len(order))
    return sorted(quotes, key=lambda q: (order[q.article.id], q.start))
