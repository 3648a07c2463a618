"""The storage backends side by side on synthetic passages: ingest throughput (embedding
excluded: the vectors are made up), open time, hybrid/dense/keyword search p50/p95,
memory and disk. Run through `bench/search.py --backend sqlite|milvus`:

    .venv/bin/python bench/search.py --backend sqlite --passages 20000
    .venv/bin/python bench/search.py --backend milvus --passages 20000

Passages are 60-word texts drawn from a Zipf-distributed vocabulary of 30,000 made-up
words (so keyword search meets long and short posting lists), with unit vectors of 384
dimensions (all-MiniLM-L6-v2's) drawn around 2,000 topic centres; queries are four words
of middling frequency with a vector near a topic centre, a fifth of them filtered to one
outlet and a date window. Written through the backend's own write sessions, 64 articles
of 5 passages at a time, as `ingest` writes them.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from _common import CACHE, disk_bytes, rss_mb, summary_ms

from index import Config, KnowledgeBase
from index.config import MilvusConfig, StorageConfig
from index.models import Span
from index.storage.factory import open_backend
from index.storage.rows import ArticleRecord, NewPassage

__all__ = ["run_backend_bench"]

DIMENSION = 384
PER_ARTICLE = 5
WORDS_PER_PASSAGE = 60
VOCABULARY = 30_000
TOPICS = 2_000
OUTLETS = [f"Outlet {n}" for n in range(20)]
PROGRESS = "progress"
REPORT_EVERY = 10_000


class FixedEmbedder:
    """Query vectors handed in by the benchmark: nothing is embedded."""

    model_id = "bench-synthetic"
    dimension = DIMENSION
    max_tokens = 256
    special_tokens = 2
    is_loaded = True

    def embed_query(self, text: str) -> np.ndarray:
        raise AssertionError("the benchmark passes query vectors")

    def embed_documents(self, texts: object) -> np.ndarray:
        raise AssertionError("the benchmark writes its own vectors")


def _words(rng: np.random.Generator, count: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.15, size=count), VOCABULARY)
    return [f"w{int(r)}x" for r in ranks]


def _unit(matrix: np.ndarray) -> np.ndarray:
    unit: np.ndarray = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _config(backend: str, folder: Path, fusion: str) -> Config:
    milvus = MilvusConfig(fusion=fusion)  # type: ignore[arg-type]
    return Config(data_dir=folder, storage=StorageConfig(backend=backend, milvus=milvus))  # type: ignore[arg-type]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f}"


def _read_progress(folder: Path) -> tuple[int, float]:
    """(passages written, seconds spent writing them) by an earlier, interrupted build."""
    try:
        written, spent = (folder / PROGRESS).read_text().split()
        return int(written), float(spent)
    except (OSError, ValueError):
        return 0, 0.0


def build(backend: str, folder: Path, passages: int, seed: int = 11) -> tuple[float, int]:
    """Write `passages` synthetic passages; (seconds spent writing, passages written).

    Resumable: after each write session the passages written so far and the time spent
    are recorded in `folder`/progress, and a build started again over the same folder
    makes the same passages and writes from there (the session that was interrupted is
    written again: the same rows, upserted).
    """
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(TOPICS, DIMENSION)))
    start_day = datetime(2020, 1, 1)
    config = _config(backend, folder, "geobot")
    done, spent = _read_progress(folder)
    spent_before = spent
    if done:
        print(f"{backend}: resuming a build at {done} passages ({spent:.0f} s spent writing)")
    written = 0
    next_report = (done // REPORT_EVERY + 1) * REPORT_EVERY
    with open_backend(config, folder) as store:
        store.set_meta({"model": FixedEmbedder.model_id, "dimension": str(DIMENSION)})
        store.attach_vectors(DIMENSION, stored_vectors_usable=True)
        article = 0
        while written < passages:
            batch: list[tuple[ArticleRecord, list[NewPassage]]] = []
            for _ in range(64):
                if written >= passages:
                    break
                count = min(PER_ARTICLE, passages - written)
                texts = [" ".join(_words(rng, WORDS_PER_PASSAGE)) + "." for _ in range(count)]
                body = "\n\n".join(texts)
                topic = centres[rng.integers(TOPICS)]
                vectors = _unit(topic + rng.normal(0, 0.6 / np.sqrt(DIMENSION), (count, DIMENSION)))
                spans, offset = [], 0
                for text in texts:
                    spans.append((offset, offset + len(text)))
                    offset += len(text) + 2
                record = ArticleRecord(
                    existing_id=None,
                    key=f"synthetic:{article}",
                    title=f"Synthetic {' '.join(_words(rng, 6))}",
                    text=body,
                    url=f"https://synthetic.example/{article}",
                    outlet=OUTLETS[article % len(OUTLETS)],
                    published=start_day + timedelta(hours=int(article)),
                    country=None,
                    language="en",
                    author=None,
                    source="bench",
                    content_hash=f"c{article}",
                    metadata_hash="m",
                )
                batch.append(
                    (
                        record,
                        [
                            NewPassage(i, a, b, (Span(a, b),), vectors[i])
                            for i, (a, b) in enumerate(spans)
                        ],
                    )
                )
                article += 1
                written += count
            if written <= done:
                continue  # written before an interruption
            started = time.perf_counter()
            with store.writing(final=written >= passages) as session:
                for record, new in batch:
                    session.store_article(record, new)
            spent += time.perf_counter() - started
            (folder / PROGRESS).write_text(f"{written} {spent:.3f}\n")
            if written >= next_report:
                next_report += REPORT_EVERY
                print(
                    f"  {backend}: {written} passages written, {spent:.0f} s writing,"
                    f" {(written - done) / (spent - spent_before):.0f} passages/s this run"
                    f" ({_load()})",
                    flush=True,
                )
    return spent, written


def queries(count: int, seed: int = 5) -> list[tuple[str, np.ndarray, dict[str, object]]]:
    rng = np.random.default_rng(seed)
    centres = _unit(np.random.default_rng(11).normal(size=(TOPICS, DIMENSION)))
    made = []
    for n in range(count):
        words = [f"w{int(r)}x" for r in rng.integers(30, 3000, size=4)]
        vector = _unit((centres[rng.integers(TOPICS)] + rng.normal(0, 0.04, DIMENSION))[None, :])[0]
        filters: dict[str, object] = {}
        if n % 5 == 4:
            filters = {
                "outlet": OUTLETS[n % len(OUTLETS)].lower(),
                "since": datetime(2020, 1, 1) + timedelta(days=int(rng.integers(0, 60))),
            }
        made.append((" ".join(words), vector, filters))
    return made


def run_backend_bench(
    backend: str,
    passages: int,
    query_count: int,
    *,
    store_dir: Path = CACHE,
    build_only: bool = False,
) -> None:
    """Build (or resume building, or reuse) the store of `passages` in `store_dir`, then
    time the searches on it (unless `build_only`)."""
    folder = store_dir / f"backend-{backend}-{passages}"
    if not (folder / "complete").exists():
        if not (folder / PROGRESS).exists():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{backend}: building {passages} passages in {folder} ({_load()})", flush=True)
        spent, written = build(backend, folder, passages)
        (folder / "complete").write_text(f"{written} passages in {spent:.1f} s\n")
        print(
            f"{backend}: ingest (embedding excluded) {written} passages in {spent:.1f} s:"
            f" {written / spent:.0f} passages/s ({_load()})"
        )
    else:
        print(f"{backend}: store built earlier ({(folder / 'complete').read_text().strip()})")
    if build_only:
        return
    print(f"{backend}: searching ({_load()})", flush=True)
    asked = queries(query_count)
    fusions = ["geobot", "milvus"] if backend == "milvus" else ["geobot"]
    fused: dict[str, list[list[int]]] = {}
    for fusion in fusions:
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        kb = KnowledgeBase.open(_config(backend, folder, fusion), FixedEmbedder())  # type: ignore[arg-type]
        opened = time.perf_counter() - started
        stats = kb.stats()
        for mode in ("hybrid", "dense", "keyword") if fusion == "geobot" else ("hybrid",):
            for text, vector, filters in asked[:10]:  # warm caches
                kb.search(text, k=5, mode=mode, query_vector=vector, **filters)  # type: ignore[arg-type]
            latencies, found = [], 0
            for text, vector, filters in asked:
                begun = time.perf_counter()
                hits = kb.search(text, k=5, mode=mode, query_vector=vector, **filters)  # type: ignore[arg-type]
                latencies.append(time.perf_counter() - begun)
                found += len(hits)
                if mode == "hybrid":
                    fused.setdefault(fusion, []).append([h.passage.id for h in hits])
            label = f"{mode} ({fusion} fusion)" if mode == "hybrid" else mode
            per_query = found / len(asked)
            print(f"  {backend:6} {label:24} {summary_ms(latencies)}  hits/query {per_query:.1f}")
        after = rss_mb()
        size = disk_bytes(folder)
        print(
            f"  {backend:6} {stats.passages} passages; open {opened * 1000:.0f} ms; resident"
            f" memory +{after - before:.0f} MB after open and searches; disk {size / 1e6:.0f} MB"
            f" ({size / max(stats.passages, 1):.0f} bytes/passage); {_load()}"
        )
        kb.close()
    if len(fused) == 2:
        pairs = list(zip(fused["geobot"], fused["milvus"], strict=True))
        overlap = np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in pairs])
        same = np.mean([a == b for a, b in pairs])
        print(
            f"  hybrid top-5, geobot vs milvus fusion: overlap {overlap:.3f}, same list {same:.3f}"
        )
