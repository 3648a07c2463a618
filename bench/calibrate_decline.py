"""Calibrate when to decline: choose the confidence rule's two weights and its threshold on
the RealTimeQA dev set (never on anything else).

    .venv/bin/python bench/calibrate_decline.py [--data ../shared/data/realtimeqa/dev]

Runs every dev question with declining switched off, so each answer carries its evidence
(`bot.answers.models.Evidence`). The confidence is `match + bonus * vote * margin`, less
`penalty` when the question asks for a kind of thing and none was found
(`bot.answers.drafting.confidence_of`). A decline counts as *right* when no article holds
the answer (answering would dress up unrelated text) and *wrong* when the answer would have
held it; declining an answerable question whose answer would have missed anyway is
neither. The script tries a small grid of bonus, penalty and threshold, prints the best
rule by right-minus-wrong declines, and prints its risk-coverage table: precision among
answered questions, coverage of the answerable ones, unanswerable ones declined.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from _common import CACHE, DEV_DIR, require_dev_dir

from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import load_dataset, open_corpus
from bot.evaluation.scoring import QuestionResult, evaluate
from index import Config
from index.config import EmbeddingConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder

BONUSES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
PENALTIES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
THRESHOLDS = tuple(step / 100 for step in range(30, 61))


def confidence(result: QuestionResult, bonus: float, penalty: float) -> float:
    evidence = result.evidence
    if evidence is None or result.always_declined:
        return 0.0
    value = evidence.match + bonus * evidence.vote * evidence.margin
    if evidence.kind_asked and not evidence.kind_found:
        value -= penalty
    return min(1.0, max(0.0, value))


def score(results: Sequence[QuestionResult], bonus: float, penalty: float, t: float) -> int:
    """Right minus wrong declines."""
    declined = [r for r in results if confidence(r, bonus, penalty) < t]
    return sum(not r.answerable for r in declined) - sum(
        r.answerable and r.would_hit for r in declined
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    args = parser.parse_args()
    dataset = load_dataset(require_dev_dir(args.data))
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    kb = open_corpus(dataset, Config(), embedder, CACHE)
    report = evaluate(dataset, AnswerService(kb, AnswerConfig(min_confidence=0.0)))
    kb.close()
    results = report.results
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    hits = sum(r.would_hit for r in answerable)
    print(
        f"{len(results)} questions, {len(answerable)} answerable; with no declines "
        f"answer-hit {hits / len(answerable):.3f}"
    )
    best = max(
        (
            (score(results, b, p, t), -t, b, p)
            for b in BONUSES
            for p in PENALTIES
            for t in THRESHOLDS
        ),
    )
    right_minus_wrong, negative_threshold, bonus, penalty = best
    threshold = -negative_threshold
    print(
        f"best rule: SHORT_ANSWER_BONUS = {bonus}, MISSING_KIND_PENALTY = {penalty}, "
        f"min_confidence = {threshold:.2f} ({right_minus_wrong} more right than wrong declines)"
    )
    print(f"{'threshold':>9} {'precision':>9} {'coverage':>8} {'unans. declined':>15} {'hit':>6}")
    for step in range(20, 71, 2):
        t = step / 100
        answered = [r for r in results if confidence(r, bonus, penalty) >= t]
        right = sum(r.answerable and r.would_hit for r in answered)
        print(
            f"{t:9.2f} {right / max(len(answered), 1):9.3f} "
            f"{sum(r.answerable for r in answered) / len(answerable):8.3f} "
            f"{1 - sum(not r.answerable for r in answered) / max(len(unanswerable), 1):15.3f} "
            f"{right / len(answerable):6.3f}"
        )


if __name__ == "__main__":
    main()
