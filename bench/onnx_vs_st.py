"""Our ONNX embedder against sentence-transformers' own ONNX backend, on the same texts.

    <venv with optimum>/bin/python bench/onnx_vs_st.py [--texts 400] [--st-model DIR]

sentence-transformers can load a model with ``backend="onnx"`` (exported by optimum) and
write an int8 copy with ``export_dynamic_quantized_onnx_model(model, "avx2", DIR)``. This
needs `optimum` (optimum-onnx), which geobot does not depend on: run it from a copy of the
virtualenv with it installed, on a copy of the model folder (the export is written into
it). Prints, for torch, our int8 and fp32 exports, and sentence-transformers' fp32 and int8
ONNX models: passages/s embedding the same texts, ms per single query, and the cosine to
torch (min and mean). Then, in fresh processes, the time and peak memory to import and
load each and embed one query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import CACHE, DEV_DIR, REPO, require_dev_dir

from bot.evaluation.realtimeqa import load_dataset
from index.config import BUNDLED_MODEL, EmbeddingConfig
from index.embedding.factory import load_embedder
from index.embedding.sentence_transformer import load_sentence_transformer


def passages(count: int) -> list[str]:
    """~180-word windows of the dev articles: passage-sized news text."""
    out: list[str] = []
    for article in load_dataset(require_dev_dir(DEV_DIR)).articles:
        words = article.text.split()
        for start in range(0, len(words), 180):
            out.append(f"{article.title}\n" + " ".join(words[start : start + 180]))
            if len(out) == count:
                return out
    return out


def rate(encode: Callable[[list[str]], Any], texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    return len(texts) / (time.perf_counter() - started), vectors


def query_ms(encode_one: Callable[[str], Any], queries: list[str]) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        encode_one(q)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


_COLD = {
    "ours int8 (onnxruntime)": (
        "from pathlib import Path\n"
        "from index.config import EmbeddingConfig\n"
        "from index.embedding.factory import load_embedder\n"
        "e = load_embedder(EmbeddingConfig(), cache_dir=Path({models!r}))\n"
        "e.embed_query('who won the election')\n"
    ),
    "sentence-transformers onnx int8": (
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer({st!r}, backend='onnx', device='cpu',\n"
        "    model_kwargs={{'file_name': 'onnx/model_quint8_avx2.onnx'}})\n"
        "m.encode(['who won the election'])\n"
    ),
    "sentence-transformers torch": (
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer({st!r}, device='cpu')\n"
        "m.encode(['who won the election'])\n"
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--st-model", type=Path, required=True, help="a copy of the model folder")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    texts = passages(args.texts)
    queries = [t.split("\n")[0] for t in texts[:60]]
    models = CACHE / "models"
    torch_model = load_sentence_transformer(BUNDLED_MODEL)
    ours_int8 = load_embedder(EmbeddingConfig(), cache_dir=models)
    ours_fp32 = load_embedder(EmbeddingConfig(onnx_quantize=False), cache_dir=models)
    st = str(args.st_model)
    st_fp32 = SentenceTransformer(st, backend="onnx", device="cpu")
    if not (args.st_model / "onnx" / "model_quint8_avx2.onnx").exists():
        export_dynamic_quantized_onnx_model(st_fp32, "avx2", st)
    st_int8 = SentenceTransformer(
        st, backend="onnx", device="cpu", model_kwargs={"file_name": "onnx/model_quint8_avx2.onnx"}
    )

    def st_encode(model: Any) -> Callable[[list[str]], Any]:
        return lambda batch: model.encode(batch, batch_size=32, normalize_embeddings=True)

    for warm in (st_encode(torch_model), ours_int8.embed_documents, st_encode(st_int8)):
        warm(texts[:16])
    candidates = {
        "torch (sentence-transformers)": (st_encode(torch_model), None),
        "ours int8": (ours_int8.embed_documents, ours_int8.embed_query),
        "ours fp32": (ours_fp32.embed_documents, ours_fp32.embed_query),
        "sentence-transformers onnx fp32": (st_encode(st_fp32), None),
        "sentence-transformers onnx int8": (st_encode(st_int8), None),
    }
    reference: np.ndarray | None = None
    print(f"{len(texts)} passages, {len(queries)} single queries")
    for name, (encode, one) in candidates.items():
        per_s, vectors = rate(encode, texts)
        if reference is None:
            reference = vectors
        cos = np.sum(vectors * reference, axis=1)
        single = query_ms(one or (lambda q, e=encode: e([q])), queries)
        print(
            f"{name:<34} {per_s:7.1f} passages/s  query {single:6.2f} ms  "
            f"cosine to torch min {cos.min():.4f} mean {cos.mean():.4f}"
        )
    for name, script in _COLD.items():
        code = f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + script.format(
            models=str(models), st=st
        )
        walls, peaks = [], []
        for _ in range(3):
            started = time.perf_counter()
            process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(process.pid, 0)
            walls.append(time.perf_counter() - started)
            peaks.append(usage.ru_maxrss / 1024)
            assert status == 0, name
        print(
            f"cold load + one query, {name:<32} {statistics.median(walls):5.2f} s  "
            f"{statistics.median(peaks):4.0f} MiB (median of 3)"
        )


if __name__ == "__main__":
    main()
