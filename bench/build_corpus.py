"""Build (once) the knowledge base of the RealTimeQA dev corpus that the other benchmarks
and `geobot eval` reuse; prints progress and the time it took.

    .venv/bin/python bench/build_corpus.py
"""

from __future__ import annotations

import time

from _common import CACHE, DEV_DIR, require_dev_dir

from bot.evaluation.realtimeqa import load_dataset, open_corpus
from index import Config
from index.config import EmbeddingConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder


def main() -> None:
    dataset = load_dataset(require_dev_dir(DEV_DIR))
    embedder = SentenceTransformerEmbedder(EmbeddingConfig(query_backend="torch"))
    started = time.perf_counter()
    kb = open_corpus(
        dataset,
        Config(),
        embedder,
        CACHE,
        on_progress=lambda done, total: print(
            f"{done}/{total} articles, {time.perf_counter() - started:.0f} s", flush=True
        ),
    )
    stats = kb.stats()
    print(
        f"{stats.articles} articles, {stats.passages} passages in {kb.data_dir} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    kb.close()


if __name__ == "__main__":
    main()
