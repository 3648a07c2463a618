"""Every test gets a temporary home and data folder, no GEOBOT_* leaking in from the
environment, and fake collaborators unless it asks for the real model."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import HashingEmbedder
from local_http import LOCAL_HOSTS, LocalHTTPServer
from real_llm import LlamaServer

from index import Config, KnowledgeBase
from index.config import FetchConfig, StorageConfig

REPO = Path(__file__).resolve().parent.parent
# Milvus runs as Milvus Lite, embedded, in the test's data folder (the `milvus` extra).
STORAGE_BACKENDS = ["sqlite", "milvus"]
SEED = REPO / "seeds" / "000_f5aa29004a3adc0e.txt"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in list(os.environ):
        if name.startswith("GEOBOT_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def backend() -> str:
    """The storage backend of `config`; a test module runs on both by overriding this
    with ``@pytest.fixture(params=STORAGE_BACKENDS)``."""
    return "sqlite"


@pytest.fixture
def config(data_dir: Path, backend: str) -> Config:
    # The fetcher refuses loopback by default: the tests' local servers are allowed here.
    return Config(
        data_dir=data_dir,
        fetch=FetchConfig(allowed_hosts=LOCAL_HOSTS),
        storage=StorageConfig(backend=backend),  # type: ignore[arg-type]
    )


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def kb(config: Config, fake_embedder: HashingEmbedder) -> Iterator[KnowledgeBase]:
    knowledge_base = KnowledgeBase.open(config, fake_embedder)
    yield knowledge_base
    knowledge_base.close()


@pytest.fixture(scope="session")
def real_embedder(onnx_cache: Path) -> object:
    """The real bundled all-MiniLM-L6-v2 with the default backend (int8 ONNX), exported
    and verified once per test session."""
    from index.config import EmbeddingConfig
    from index.embedding.factory import load_embedder

    return load_embedder(EmbeddingConfig(), cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export cache for the session: the model is exported (and checked) once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def local_http() -> Iterator[LocalHTTPServer]:
    """A started local HTTP server (tests/local_http.py), stopped after the test."""
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture(scope="session")
def real_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-cpp-python's OpenAI-compatible server running SmolLM2-135M (tests/real_llm.py),
    started once for the session on a free port and stopped at its end."""
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with LlamaServer(log) as server:
        yield server


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[object]:
    """One real PostgreSQL server for the session (pgserver, the dev extra). Imported
    here, not at the top: only the tests that use it need the package, and they fail
    (never skip) without it."""
    from local_postgres import LocalPostgres

    server = LocalPostgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(local_postgres: object) -> str:
    """A fresh database on the session's PostgreSQL server."""
    from local_postgres import LocalPostgres

    assert isinstance(local_postgres, LocalPostgres)
    return local_postgres.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def feed_state(request: pytest.FixtureRequest) -> Iterator[str]:
    """The feed tests' engine: with "postgres", `feeds_of(kb)` (tests/feed_states.py)
    opens feed stores on a fresh PostgreSQL database instead of the library's file."""
    from feed_states import FeedStates

    if request.param == "postgres":
        from bot.state_db import PostgresStateDatabase

        url = request.getfixturevalue("postgres_url")
        FeedStates.connect = lambda: PostgresStateDatabase(url)
    try:
        yield str(request.param)
    finally:
        FeedStates.close_all()
