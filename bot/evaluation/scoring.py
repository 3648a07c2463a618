"""Scoring retrieval and answers on a question set, by the RealTimeQA rules."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answers.models import Answer, Evidence
from bot.answers.service import AnswerService
from bot.answers.short_answer import headline
from bot.evaluation.realtimeqa import Dataset, Question, contains_answer, normalise
from index import SearchMode

__all__ = [
    "EvalReport",
    "QuestionResult",
    "RiskCoverageRow",
    "evaluate",
    "prose_of",
    "shown_text",
]

_MARKER = re.compile(r" ?\[\d+\]")
# The decline thresholds of the risk-coverage table.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(21))


def shown_text(answer: Answer) -> str:
    """What a reader is shown of `answer` above its sources list: the short answer line
    (where it opens with one), then the text, with their citation markers."""
    line = headline(answer)
    return f"{line}\n\n{answer.text}" if line else answer.text


def prose_of(answer: Answer) -> str:
    """:func:`shown_text` without the citation markers: what is scored."""
    return _MARKER.sub("", shown_text(answer))


def short_answer_text(answer: Answer) -> str:
    """The short answers themselves ("Florida"; both sides when sources differ)."""
    return " | ".join(s.text for s in answer.short_answers) if not answer.declined else ""


@dataclass(frozen=True)
class QuestionResult:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    first_hit_rank: int | None  # 1-based rank of the first passage holding the answer
    hit_300w: bool
    hit_1000w: bool
    answer_hit: bool
    short_answer_hit: bool
    declined: bool
    # Whether it would have hit had it answered (the risk-coverage table uses it), and
    # whether it was declined whatever the threshold (no passage close enough, or the
    # model found no answer).
    would_hit: bool
    always_declined: bool
    confidence: float | None
    evidence: Evidence | None
    answer_words: int
    passage_words: float
    answer: str
    short_answer: str
    ms: float


@dataclass(frozen=True)
class RiskCoverageRow:
    """The trust figures had answers under `threshold` confidence been declined."""

    threshold: float
    precision: float
    coverage: float
    declined_unanswerable: float
    answer_hit: float


@dataclass(frozen=True)
class EvalReport:
    mode: str
    questions: int
    answerable: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    recall_at_300w: float
    recall_at_1000w: float
    mean_passage_words: float
    answer_hit: float
    short_answer_hit: float
    precision: float
    coverage: float
    mean_answer_words: float
    declined: float
    declined_answerable: float
    declined_unanswerable: float
    mean_ms: float
    threshold: float
    risk_coverage: tuple[RiskCoverageRow, ...]
    results: tuple[QuestionResult, ...]


def _first_words(texts: Sequence[str], limit: int) -> str:
    joined = " ".join(texts).split()
    return " ".join(joined[:limit])


def evaluate(
    dataset: Dataset,
    service: AnswerService,
    *,
    mode: SearchMode = "hybrid",
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Ask every question (as of its own date) and score retrieval and answers.

    Each question is answered once with the confidence threshold switched off, so that
    its would-be answer is known; it counts as declined where its confidence falls under
    the service's `min_confidence`, exactly as the service itself would decline it. That
    one pass also gives the risk-coverage table over every threshold.
    """
    threshold = service.config.min_confidence
    probe = service.with_config(min_confidence=0.0)
    corpus = [normalise(a.text) for a in dataset.articles]
    questions: Sequence[Question] = dataset.questions[:limit] if limit else dataset.questions
    results: list[QuestionResult] = []
    for done, question in enumerate(questions, start=1):
        started = time.perf_counter()
        targets = [normalise(a) for a in question.answers]
        answerable = any(t in text for text in corpus for t in targets)
        retrieved = probe.retrieve(question.sentence, as_of=question.asked_on, mode=mode, keep=10)
        texts = [p.hit.passage.text for p in retrieved.passages[:10]]
        first = next(
            (rank for rank, text in enumerate(texts, 1) if contains_answer(text, targets)),
            None,
        )
        answer = probe.answer_from(retrieved)
        prose = prose_of(answer)
        always_declined = answer.declined
        declined = always_declined or (answer.confidence or 0.0) < threshold
        would_hit = not always_declined and contains_answer(prose, targets)
        short = short_answer_text(answer)
        results.append(
            QuestionResult(
                id=question.id,
                question=question.sentence,
                answers=question.answers,
                answerable=answerable,
                first_hit_rank=first,
                hit_300w=contains_answer(_first_words(texts, 300), targets),
                hit_1000w=contains_answer(_first_words(texts, 1000), targets),
                answer_hit=not declined and would_hit,
                short_answer_hit=not declined and bool(short) and contains_answer(short, targets),
                declined=declined,
                would_hit=would_hit,
                always_declined=always_declined,
                confidence=answer.confidence,
                evidence=answer.evidence,
                answer_words=0 if declined else len(prose.split()),
                passage_words=statistics.fmean(len(t.split()) for t in texts) if texts else 0.0,
                answer=shown_text(answer),
                short_answer=short,
                ms=(time.perf_counter() - started) * 1000,
            )
        )
        if on_progress is not None:
            on_progress(done, len(questions))
    return _report(mode, threshold, results)


def _answered_at(result: QuestionResult, threshold: float) -> bool:
    return not result.always_declined and (result.confidence or 0.0) >= threshold


def _risk_coverage(results: Sequence[QuestionResult], threshold: float) -> RiskCoverageRow:
    answered = [r for r in results if _answered_at(r, threshold)]
    scored = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    hits = [r.answerable and r.would_hit for r in answered]
    return RiskCoverageRow(
        threshold=threshold,
        precision=_share(hits),
        coverage=_share([_answered_at(r, threshold) for r in scored]),
        declined_unanswerable=_share([not _answered_at(r, threshold) for r in unanswerable]),
        answer_hit=_share([_answered_at(r, threshold) and r.would_hit for r in scored]),
    )


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _report(mode: str, threshold: float, results: Sequence[QuestionResult]) -> EvalReport:
    scored = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in results if not r.declined]

    def recall(k: int) -> float:
        return _share([r.first_hit_rank is not None and r.first_hit_rank <= k for r in scored])

    return EvalReport(
        mode=mode,
        questions=len(results),
        answerable=len(scored),
        recall_at_1=recall(1),
        recall_at_5=recall(5),
        recall_at_10=recall(10),
        mrr_at_10=statistics.fmean(
            1 / r.first_hit_rank if r.first_hit_rank else 0.0 for r in scored
        )
        if scored
        else 0.0,
        recall_at_300w=_share([r.hit_300w for r in scored]),
        recall_at_1000w=_share([r.hit_1000w for r in scored]),
        mean_passage_words=statistics.fmean(r.passage_words for r in results) if results else 0.0,
        answer_hit=_share([r.answer_hit for r in scored]),
        short_answer_hit=_share([r.short_answer_hit for r in scored]),
        precision=_share([r.answerable and r.answer_hit for r in answered]),
        coverage=_share([not r.declined for r in scored]),
        mean_answer_words=statistics.fmean(r.answer_words for r in answered) if answered else 0.0,
        declined=_share([r.declined for r in results]),
        declined_answerable=_share([r.declined for r in scored]),
        declined_unanswerable=_share([r.declined for r in unanswerable]),
        mean_ms=statistics.fmean(r.ms for r in results) if results else 0.0,
        threshold=threshold,
        risk_coverage=tuple(_risk_coverage(results, t) for t in THRESHOLDS),
        results=tuple(results),
    )
