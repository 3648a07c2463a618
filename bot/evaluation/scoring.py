"""Scoring retrieval and answers on a question set, by the RealTimeQA rules."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answers.service import AnswerService
from bot.evaluation.realtimeqa import Dataset, Question, contains_answer, normalise
from index import SearchMode

__all__ = ["EvalReport", "QuestionResult", "evaluate"]

_MARKER = re.compile(r" \[\d+\]")


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
    declined: bool
    confidence: float | None
    answer_words: int
    passage_words: float
    answer: str
    ms: float


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
    mean_answer_words: float
    declined: float
    declined_answerable: float
    declined_unanswerable: float
    mean_ms: float
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
    """Ask every question (as of its own date) and score retrieval and answers."""
    corpus = [normalise(a.text) for a in dataset.articles]
    questions: Sequence[Question] = dataset.questions[:limit] if limit else dataset.questions
    results: list[QuestionResult] = []
    for done, question in enumerate(questions, start=1):
        started = time.perf_counter()
        targets = [normalise(a) for a in question.answers]
        answerable = any(t in text for text in corpus for t in targets)
        retrieved = service.retrieve(question.sentence, as_of=question.asked_on, mode=mode, keep=10)
        texts = [p.hit.passage.text for p in retrieved.passages[:10]]
        first = next(
            (rank for rank, text in enumerate(texts, 1) if contains_answer(text, targets)),
            None,
        )
        answer = service.answer_from(retrieved)
        prose = _MARKER.sub("", answer.text)
        results.append(
            QuestionResult(
                id=question.id,
                question=question.sentence,
                answers=question.answers,
                answerable=answerable,
                first_hit_rank=first,
                hit_300w=contains_answer(_first_words(texts, 300), targets),
                hit_1000w=contains_answer(_first_words(texts, 1000), targets),
                answer_hit=not answer.declined and contains_answer(prose, targets),
                declined=answer.declined,
                confidence=answer.confidence,
                answer_words=0 if answer.declined else len(prose.split()),
                passage_words=statistics.fmean(len(t.split()) for t in texts) if texts else 0.0,
                answer=answer.text,
                ms=(time.perf_counter() - started) * 1000,
            )
        )
        if on_progress is not None:
            on_progress(done, len(questions))
    return _report(mode, results)


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _report(mode: str, results: Sequence[QuestionResult]) -> EvalReport:
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
        mean_answer_words=statistics.fmean(r.answer_words for r in answered) if answered else 0.0,
        declined=_share([r.declined for r in results]),
        declined_answerable=_share([r.declined for r in scored]),
        declined_unanswerable=_share([r.declined for r in unanswerable]),
        mean_ms=statistics.fmean(r.ms for r in results) if results else 0.0,
        results=tuple(results),
    )
