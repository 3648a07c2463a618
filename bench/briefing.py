"""How long a daily briefing takes to compose, and what it groups, on a real corpus.

    .venv/bin/python bench/briefing.py [--data-dir PATH] [--runs 5] [--topic TEXT]

Opens a knowledge base built with the bundled model (default: the RealTimeQA dev corpus
that bench/build_corpus.py caches under .bench-cache/), finds the 24 hours with the most
articles, and composes that day's briefing `--runs` times (`bot.answers.briefing`).
Reports the articles in the window, the stories and their sizes, and the time per briefing
(p50, p95). Composition runs in the bot's thread pool, so this is time a worker is busy.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from _common import CACHE, summary_ms

from bot.answers.briefing import compose_briefing
from bot.config import BotConfig
from index import KnowledgeBase
from index.config import EmbeddingConfig
from index.embedding.sentence_transformer import SentenceTransformerEmbedder


def busiest_day(kb: KnowledgeBase) -> datetime:
    """The end of the calendar day with the most dated articles."""
    days = Counter(a.published.date() for a in kb.list_articles() if a.published is not None)
    if not days:
        raise SystemExit("the knowledge base has no dated articles")
    day, _ = days.most_common(1)[0]
    return datetime.combine(day, datetime.min.time()) + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = next(iter(sorted(CACHE.glob("realtimeqa-*"))), None)
    parser.add_argument("--data-dir", type=Path, default=default)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--topic", default=None)
    args = parser.parse_args()
    if args.data_dir is None or not args.data_dir.is_dir():
        raise SystemExit("no knowledge base: run bench/build_corpus.py or pass --data-dir")
    kb = KnowledgeBase.open(
        BotConfig(data_dir=args.data_dir), SentenceTransformerEmbedder(EmbeddingConfig())
    )
    until = busiest_day(kb)
    times = []
    briefing = None
    for _ in range(args.runs):
        started = time.perf_counter()
        briefing = compose_briefing(kb, until=until, topic=args.topic)
        times.append(time.perf_counter() - started)
    assert briefing is not None
    sizes = [len(s.articles) for s in briefing.stories]
    print(f"knowledge base: {kb.article_count()} articles; window: the 24 h up to {until}")
    print(f"articles in the window: {briefing.article_count}; stories shown: {len(sizes)}")
    for story in briefing.stories:
        outlets = len(story.reporters)
        print(f"  {len(story.articles):3d} articles, {outlets:2d} outlets: {story.headline[:70]}")
    print(f"compose: {summary_ms(times)}")
    kb.close()


if __name__ == "__main__":
    main()
