"""End-to-end `ask` latency, extractive, model loaded: p50 and p95 at the dev-corpus size
and at 100,000 passages (the padded copy that bench/search.py builds and keeps).

    .venv/bin/python bench/answer.py [--queries 200] [--passages 100000]

Each dev question is asked once, one at a time, as of its own date, through the same
`AnswerService.ask` the CLI and the Discord bot use (time parsing, hybrid retrieval, date
preferences, diversity, sentence selection and the citation check).
Target at 100,000 passages: p50 at most 60 ms, p95 at most 150 ms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import CACHE, DEV_DIR, require_dev_dir, summary_ms
from search import padded_copy

from bot.answers.service import AnswerService
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import Question, load_dataset, open_corpus
from index import Config, KnowledgeBase
from index.config import EmbeddingConfig
from index.embedding.factory import load_embedder


def measure(service: AnswerService, questions: list[Question], label: str) -> None:
    # One untimed pass first, as bench/search.py does: a bot's store is hot.
    for q in questions:
        service.ask(q.sentence, as_of=q.asked_on)
    latencies = []
    declined = 0
    for q in questions:
        started = time.perf_counter()
        answer = service.ask(q.sentence, as_of=q.asked_on)
        latencies.append(time.perf_counter() - started)
        declined += answer.declined
    print(f"  {label:30} ask {summary_ms(latencies)}  declined {declined}/{len(questions)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    args = parser.parse_args()
    dataset = load_dataset(require_dev_dir(args.data))
    questions = list(dataset.questions[: args.queries])
    # The default embedding backend, as `geobot ask` and `geobot eval` load it (int8 ONNX
    # for passages and queries): its store and its 100,000-passage padded copy.
    embedder = load_embedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    print(f"embedding: {embedder.model_id}")
    kb = open_corpus(dataset, Config(), embedder, CACHE)
    measure(AnswerService(kb, AnswerConfig()), questions, f"{kb.stats().passages} passages")
    source = kb.data_dir
    kb.close()
    big = KnowledgeBase.open(Config(data_dir=padded_copy(source, args.passages)), embedder)
    measure(AnswerService(big, AnswerConfig()), questions, f"{big.stats().passages} passages")
    big.close()


if __name__ == "__main__":
    main()
