"""Calibrate when to decline: sweep the confidence threshold on the RealTimeQA dev set.

    .venv/bin/python bench/calibrate_decline.py [--data ../shared/data/realtimeqa/dev]

Runs every dev question with declining switched off, so each answer carries its
confidence (half the best passage's similarity to the question, half the share of the
question's terms the best sentence covers). A decline is *right* when no article of the
corpus holds the answer (answering would dress up unrelated text) and *wrong* when the
answer would have held it; declining an answerable question whose answer would have
missed anyway is neither. The chosen threshold maximises right minus wrong declines; the
table shows what each threshold costs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import CACHE, DEV_DIR, require_dev_dir

from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import load_dataset, open_corpus
from bot.evaluation.scoring import evaluate
from index import Config
from index.config import EmbeddingConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    args = parser.parse_args()
    dataset = load_dataset(require_dev_dir(args.data))
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    kb = open_corpus(dataset, Config(), embedder, CACHE)
    never_decline = AnswerConfig(min_relevance=-1.0, min_confidence=0.0)
    report = evaluate(dataset, AnswerService(kb, never_decline))
    kb.close()
    results = report.results
    answerable = [r for r in results if r.answerable]
    print(
        f"{len(results)} questions, {len(answerable)} answerable; with no declines "
        f"answer-hit {sum(r.answer_hit for r in answerable) / len(answerable):.3f}"
    )
    print(
        f"{'threshold':>9} {'answer-hit':>10} {'declined':>9} {'decl. answerable':>16} "
        f"{'decl. unanswerable':>18} {'right-wrong':>11}"
    )
    best = (-(10**9), 0.0)
    for step in range(0, 61):
        threshold = step / 100
        declined = [r for r in results if (r.confidence or 0.0) < threshold]
        right = sum(1 for r in declined if not r.answerable)
        wrong = sum(1 for r in declined if r.answer_hit)
        hit = sum(r.answer_hit for r in answerable if (r.confidence or 0.0) >= threshold)
        unanswerable = [r for r in results if not r.answerable]
        if step % 5 == 0 or right - wrong > best[0]:
            print(
                f"{threshold:9.2f} {hit / len(answerable):10.3f} "
                f"{len(declined) / len(results):9.3f} "
                f"{sum(1 for r in declined if r.answerable) / len(answerable):16.3f} "
                f"{sum(1 for r in declined if not r.answerable) / max(len(unanswerable), 1):18.3f} "
                f"{right - wrong:11d}"
            )
        if right - wrong > best[0]:
            best = (right - wrong, threshold)
    print(f"best threshold (most right minus wrong declines): {best[1]:.2f}")


if __name__ == "__main__":
    main()
