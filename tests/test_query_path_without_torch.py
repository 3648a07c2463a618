"""With a verified ONNX export present, answering never imports torch.

Each check runs `geobot` in-process in a fresh interpreter (a subprocess), so what other tests
imported cannot hide an import, and then reads that interpreter's `sys.modules`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SEED

from index import Config, KnowledgeBase

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sentence_transformers", "transformers")
QUESTION = "What did Biden and Kishida agree on?"

_RUN = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from bot.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main({args!r})
        except SystemExit as exit:
            status = exit.code
        else:
            status = 0
    loaded = [m for m in {watch!r} if m in sys.modules]
    print(json.dumps({{"status": status, "out": out.getvalue(), "err": err.getvalue(),
                      "loaded": loaded}}))
    """
)


def run_geobot(*args: str, watch: tuple[str, ...] = HEAVY) -> dict[str, object]:
    script = _RUN.format(args=list(args), watch=watch)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture
def seed_library(tmp_path: Path, real_embedder: object, onnx_cache: Path) -> Path:
    """A data dir holding the seed article, embedded by the default backend, whose
    model cache holds the verified export (the session's, linked in)."""
    data = tmp_path / "library"
    with KnowledgeBase.open(Config(data_dir=data), real_embedder) as kb:  # type: ignore[arg-type]
        assert kb.ingest([SEED]).added == 1
    (data / "models").symlink_to(onnx_cache, target_is_directory=True)
    return data


def test_ask_and_search_never_import_torch(seed_library: Path) -> None:
    asked = run_geobot("--data-dir", str(seed_library), "ask", QUESTION)
    assert asked["status"] == 0, asked["err"]
    assert "comprehensive alliance upgrade program" in str(asked["out"])
    assert asked["loaded"] == []
    searched = run_geobot("--data-dir", str(seed_library), "search", "alliance upgrade", "--json")
    assert searched["status"] == 0, searched["err"]
    assert json.loads(str(searched["out"]))[0]["title"].startswith("Upcoming trilateral")
    assert searched["loaded"] == []


@pytest.mark.parametrize(
    "args",
    [["--help"], ["ask", "--help"], ["ask"], ["search", "x", "-k", "zero"], ["sources"]],
    ids=["help", "ask-help", "missing-argument", "bad-value", "no-model-needed"],
)
def test_commands_that_need_no_model_load_none(seed_library: Path, args: list[str]) -> None:
    ran = run_geobot("--data-dir", str(seed_library), *args, watch=(*HEAVY, "onnxruntime"))
    assert ran["loaded"] == []


@pytest.mark.parametrize(
    "args", [["--help"], ["ask", "--help"], ["ask"]], ids=["help", "ask-help", "missing-argument"]
)
def test_help_and_usage_errors_load_no_library_code(seed_library: Path, args: list[str]) -> None:
    # `geobot --help` took 1.2 s when every command module imported the knowledge base,
    # numpy, FAISS, pydantic's models and the answer modules at start: now 0.2 s.
    library_code = ("numpy", "faiss", "pydantic", "index.knowledge_base", "bot.answers.service")
    ran = run_geobot("--data-dir", str(seed_library), *args, watch=library_code)
    assert ran["status"] in (0, 2), ran["err"]
    assert ran["loaded"] == []


def test_an_extractive_ask_loads_no_http_client(seed_library: Path) -> None:
    # httpx (with rich and pygments) is for a model server; a quoted answer needs none, nor
    # the sentence splitter of ingest (the passages' sentences are stored).
    asked = run_geobot(
        "--data-dir", str(seed_library), "ask", QUESTION, watch=("httpx", "blingfire")
    )
    assert asked["status"] == 0, asked["err"]
    assert asked["loaded"] == []


def test_an_int8_store_is_not_mixed_with_fp32_vectors(seed_library: Path) -> None:
    # The seed library holds int8 vectors: fp32 ones (torch or the fp32 export) must not be
    # added to it or searched against it without a reindex.
    config = seed_library / "geobot.toml"
    config.write_text("[embedding]\nonnx_quantize = false\n", encoding="utf-8")
    ran = run_geobot("--config", str(config), "--data-dir", str(seed_library), "ask", QUESTION)
    assert ran["status"] == 1
    assert "geobot reindex" in str(ran["err"]) and "onnx_quantize" in str(ran["err"])
    assert len(str(ran["err"]).strip().splitlines()) == 1
