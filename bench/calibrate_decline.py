"""Calibrate when to decline: fit the confidence model's weights and choose its threshold
on the RealTimeQA dev set (never on anything else).

    .venv/bin/python bench/calibrate_decline.py [--data ../shared/data/realtimeqa/dev]
                                                [--min-coverage 0.70]

Runs every dev question with declining switched off, so each answer carries its evidence
(the features of `bot.answers.models.Evidence`: how well the best sentence matches, the
short answer's vote, margin and outlets, whether the question asks for a kind of thing).
A question counts as *right to answer* when it is answerable and the answer holds the gold
answer. The script fits a logistic model of that on the evidence (L2-regularised, so that
five weights are all it learns), prints the weights to put in
`bot/answers/drafting.py` (CONFIDENCE_WEIGHTS), and prints the risk-coverage table of the
fitted model: precision among answered questions, coverage of the answerable ones, the
share of unanswerable ones declined. The threshold it suggests is the highest one that
still answers `--min-coverage` of the answerable questions.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from _common import CACHE, DEV_DIR, require_dev_dir

from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import load_dataset, open_corpus
from bot.evaluation.scoring import QuestionResult, evaluate
from index import Config
from index.config import EmbeddingConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder

FEATURES = ("match", "vote", "margin", "outlets", "kind_found")
L2 = 0.01


def features(result: QuestionResult) -> list[float]:
    evidence = result.evidence
    if evidence is None:
        return [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    return [
        1.0,
        evidence.match,
        evidence.vote,
        evidence.margin,
        float(min(evidence.outlets, 3)),
        1.0 if evidence.kind_found else 0.0,
    ]


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression by gradient descent (the bias is not regularised)."""
    weights = np.zeros(x.shape[1])
    for _ in range(20_000):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - y) / len(y) + L2 * np.r_[0.0, weights[1:]]
        weights -= 0.5 * gradient
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    parser.add_argument("--min-coverage", type=float, default=0.70)
    args = parser.parse_args()
    dataset = load_dataset(require_dev_dir(args.data))
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    kb = open_corpus(dataset, Config(), embedder, CACHE)
    report = evaluate(dataset, AnswerService(kb, AnswerConfig(min_confidence=0.0)))
    kb.close()
    results = [r for r in report.results if not r.always_declined]
    x = np.array([features(r) for r in results])
    y = np.array([1.0 if r.answerable and r.would_hit else 0.0 for r in results])
    weights = fit(x, y)
    print(f"{len(report.results)} questions, {report.answerable} answerable; fitted weights:")
    print("CONFIDENCE_WEIGHTS = {")
    for name, value in zip(("bias", *FEATURES), weights, strict=True):
        print(f'    "{name}": {value:.2f},')
    print("}")
    confidence = 1.0 / (1.0 + np.exp(-(x @ np.round(weights, 2))))
    answerable = np.array([r.answerable for r in results])
    unanswerable_total = sum(not r.answerable for r in report.results)
    print(f"{'threshold':>9} {'precision':>9} {'coverage':>8} {'unans. declined':>15} {'hit':>6}")
    suggested = 0.0
    for step in range(5, 90):
        threshold = step / 100
        answered = confidence >= threshold
        precision = y[answered].sum() / answered.sum() if answered.sum() else math.nan
        coverage = (answered & answerable).sum() / report.answerable
        declined = unanswerable_total - (answered & ~answerable).sum()
        if coverage >= args.min_coverage:
            suggested = threshold
        if step % 5 == 0:
            print(
                f"{threshold:9.2f} {precision:9.3f} {coverage:8.3f} "
                f"{declined / max(unanswerable_total, 1):15.3f} "
                f"{(y * answered).sum() / report.answerable:6.3f}"
            )
    print(f"suggested threshold (highest answering {args.min_coverage:.0%}): {suggested:.2f}")


if __name__ == "__main__":
    main()
