"""Search latency (hybrid, dense, keyword) at the dev-corpus size and at 100,000 passages,
the time to open the store, its memory and its size on disk.

    .venv/bin/python bench/search.py [--queries 200] [--passages 100000]

The dev corpus is the RealTimeQA dev set's articles, indexed once by
`bench/build_corpus.py` (or `geobot eval`) and reused. For the large size a copy of it is
padded with synthetic passages: their text is real sentences of the corpus shuffled into
new passages (so keyword search meets realistic posting lists) and their vectors are real
passage vectors with noise, renormalised. Queries are the dev questions, embedded for real,
one at a time, through the query paths (ONNX, ONNX int8-quantised, torch); each ONNX
path's dense top-10 is compared with torch's on the dev corpus ("ranks like torch").

    .venv/bin/python bench/search.py --factory SQfp16 --quantize   # the other settings

The storage backends side by side, on synthetic passages (bench/backends.py):

    .venv/bin/python bench/search.py --backend sqlite --passages 20000
    .venv/bin/python bench/search.py --backend milvus --passages 20000
    .venv/bin/python bench/search.py --backend milvus --passages 1000000 \\
        --store-dir /data/bench --build-only   # resumes where an interrupted build stopped
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
from _common import CACHE, DEV_DIR, disk_bytes, require_dev_dir, rss_mb, summary_ms

from bot.evaluation.realtimeqa import load_dataset, open_corpus
from index import Config, Embedder, KnowledgeBase
from index.config import EmbeddingConfig
from index.embedding.factory import load_embedder
from index.embedding.sentence_transformer import SentenceTransformerEmbedder
from index.models import Span
from index.storage.sqlite_store import ArticleFilter, NewPassage

MODES = ("hybrid", "dense", "keyword")


def measure(kb: KnowledgeBase, queries: list[str], label: str) -> None:
    # One untimed pass first: a running bot's store is hot in the OS page cache, and the
    # first pass over a 600 MB file after other work measures the disk, not the search.
    for q in queries:
        kb.search(q, k=5)
    for mode in MODES:
        for q in queries[:5]:  # warm caches
            kb.search(q, k=5, mode=mode)  # type: ignore[arg-type]
        latencies = []
        for q in queries:
            started = time.perf_counter()
            kb.search(q, k=5, mode=mode)  # type: ignore[arg-type]
            latencies.append(time.perf_counter() - started)
        print(f"  {label:28} {mode:8} {summary_ms(latencies)}")


def query_embedding_ms(embedder: Embedder, queries: list[str]) -> str:
    for q in queries[:5]:
        embedder.embed_query(q)
    times = []
    for q in queries:
        started = time.perf_counter()
        embedder.embed_query(q)
        times.append(time.perf_counter() - started)
    return summary_ms(times)


def agreement(
    kb: KnowledgeBase,
    queries: list[str],
    reference: Embedder,
    others: dict[str, Embedder],
) -> None:
    """How much of torch's dense top-10 each other query path finds (mean overlap), and
    how often its top-1 is torch's top-1."""
    where = ArticleFilter()
    for label, embedder in others.items():
        overlap, same_first = [], []
        for q in queries:
            expected = [
                pid
                for pid, _ in kb.dense_search(q, 10, where, query_vector=reference.embed_query(q))
            ]
            found = [
                pid
                for pid, _ in kb.dense_search(q, 10, where, query_vector=embedder.embed_query(q))
            ]
            overlap.append(len(set(expected) & set(found)) / len(expected))
            same_first.append(expected[0] == found[0])
        print(
            f"  ranks like torch, {label:9}: top-10 overlap {np.mean(overlap):.3f}, "
            f"same top-1 {np.mean(same_first):.3f} ({len(queries)} queries)"
        )


def pad(folder: Path, target: int, seed: int = 7) -> int:
    """Add synthetic passages to the store in `folder` until it holds `target`."""
    rng = random.Random(seed)
    from index.storage.sqlite_store import SQLiteStore

    store = SQLiteStore(folder / "geobot.sqlite3")
    have = store.passage_count()
    need = target - have
    if need <= 0:
        store.close()
        return 0
    sentences: list[str] = []
    vectors: list[np.ndarray] = []
    for _ids, matrix_batch in store.iter_vectors():
        vectors.extend(matrix_batch)
    for rows in store.iter_passage_texts():
        for _, _, text in rows:
            sentences.extend(s for s in text.split(". ") if len(s) > 30)
    matrix = np.vstack(vectors)
    noise = np.random.default_rng(seed)
    per_article = 10
    made = 0
    with store.transaction():
        for n in range(0, need, per_article):
            count = min(per_article, need - n)
            parts: list[str] = []
            spans: list[tuple[int, int]] = []
            offset = 0
            for _ in range(count):
                text = ". ".join(rng.sample(sentences, 6)) + "."
                parts.append(text)
                spans.append((offset, offset + len(text)))
                offset += len(text) + 2
            body = "\n\n".join(parts)
            article_id = store.upsert_article(
                existing_id=None,
                key=f"synthetic:{n}",
                title=f"Synthetic article {n}",
                text=body,
                url=None,
                outlet="Synthetic",
                published=None,
                country=None,
                language=None,
                author=None,
                source="bench",
                content_hash=f"s{n}",
                metadata_hash="",
            )
            base = matrix[noise.integers(0, len(matrix), size=count)]
            padded = base + noise.normal(0, 0.05, size=base.shape).astype(np.float32)
            padded /= np.linalg.norm(padded, axis=1, keepdims=True)
            passages = [
                NewPassage(i, a, b, (Span(a, b),), padded[i].astype(np.float32))
                for i, (a, b) in enumerate(spans)
            ]
            store.insert_passages(article_id, f"Synthetic article {n}", body, passages)
            made += count
    store.close()
    return made


def padded_copy(source: Path, passages: int) -> Path:
    """A copy of the store in `source` padded to `passages`, built once and kept."""
    folder = CACHE / f"padded-{source.name}-{passages}"
    if (folder / "complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # A consistent copy of a live SQLite database: its backup API, not a file copy.
    with (
        sqlite3.connect(source / "geobot.sqlite3") as src,
        sqlite3.connect(folder / "geobot.sqlite3") as dst,
    ):
        src.backup(dst)
    shutil.copy(source / "vectors.faiss", folder / "vectors.faiss")
    started = time.perf_counter()
    added = pad(folder, passages)
    print(f"\npadded with {added} synthetic passages in {time.perf_counter() - started:.1f} s")
    (folder / "complete").write_text("ok\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    parser.add_argument(
        "--factory", default=None, help="FAISS index of the 100,000-passage store (e.g. HNSW32)"
    )
    parser.add_argument(
        "--quantize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure the large store with the int8 ONNX query path (default: as configured)",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "milvus"],
        default=None,
        help="measure this storage backend on synthetic passages instead (bench/backends.py)",
    )
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=CACHE,
        help="with --backend: where the synthetic stores are built and kept (a build"
        " interrupted there resumes; a finished one is reused for the searches)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="with --backend: build (or resume building) the store, time no searches",
    )
    args = parser.parse_args()
    if args.backend is not None:
        from backends import run_backend_bench

        run_backend_bench(
            args.backend,
            args.passages,
            args.queries,
            store_dir=args.store_dir,
            build_only=args.build_only,
        )
        return
    defaults = Config()
    factory = args.factory or defaults.index.factory
    quantize = defaults.embedding.onnx_quantize if args.quantize is None else args.quantize
    dataset = load_dataset(require_dev_dir(args.data))
    queries = [q.sentence for q in dataset.questions][: args.queries]
    onnx = SentenceTransformerEmbedder(
        EmbeddingConfig(onnx_quantize=False), cache_dir=CACHE / "models"
    )
    # The int8 ONNX backend (the default since issue 15); here only its queries are timed
    # and ranked against the fp32 store.
    int8 = load_embedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    torch_path = SentenceTransformerEmbedder(EmbeddingConfig(query_backend="torch"))
    print(f"query embedding, onnx ({onnx.query_backend}):  {query_embedding_ms(onnx, queries)}")
    print(f"query embedding, onnx int8:       {query_embedding_ms(int8, queries)}")
    print(f"query embedding, torch:         {query_embedding_ms(torch_path, queries)}")

    kb = open_corpus(dataset, Config(), onnx, CACHE)
    source = kb.data_dir
    stats = kb.stats()
    print(f"\ndev corpus: {stats.articles} articles, {stats.passages} passages")
    agreement(kb, queries, torch_path, {"onnx": onnx, "onnx int8": int8})
    for label, embedder in (("onnx", onnx), ("onnx int8", int8), ("torch", torch_path)):
        kb.embedder = embedder
        measure(kb, queries, f"dev corpus, {label} query")
    kb.close()

    big = padded_copy(source, args.passages)
    config = Config(data_dir=big)
    config = config.model_copy(
        update={"index": config.index.model_copy(update={"factory": factory})}
    )
    chosen = int8 if quantize else onnx
    started = time.perf_counter()
    KnowledgeBase.open(config, chosen).close()  # rebuilds the index if it is stale
    print(f"first open (rebuilds a stale vector index): {time.perf_counter() - started:.2f} s")
    before = rss_mb()
    started = time.perf_counter()
    kb = KnowledgeBase.open(config, chosen)
    opened = time.perf_counter() - started
    kb.search(queries[0], k=5)
    after = rss_mb()
    stats = kb.stats()
    size = disk_bytes(big)
    print(
        f"store: {stats.passages} passages; open {opened * 1000:.0f} ms (model loaded); "
        f"resident memory +{after - before:.0f} MB "
        f"({(after - before) * 1e6 / stats.passages:.0f} bytes/passage); "
        f"disk {size / 1e6:.0f} MB ({size / stats.passages:.0f} bytes/passage)"
    )
    label = "onnx int8" if quantize else "onnx"
    measure(kb, queries, f"{stats.passages} passages ({factory}), {label} query")
    kb.embedder = torch_path
    measure(kb, queries, f"{stats.passages} passages ({factory}), torch query")
    kb.close()


if __name__ == "__main__":
    main()
