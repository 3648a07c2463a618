"""`geobot migrate --to CONFIG`: a library copied to another backend and back, vectors
included, nothing embedded again, counts checked."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from fakes import HashingEmbedder
from test_cli import write_articles

from bot.cli import AppContext, cli
from index import Config, KnowledgeBase
from index.config import StorageConfig
from index.storage.factory import open_backend
from index.storage.migration import copy_library


class NoEmbedding(HashingEmbedder):
    """Fails the test if anything is embedded."""

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError("a migration must not embed")


def run(*args: str, embedder: HashingEmbedder | None = None) -> Result:
    made = embedder or HashingEmbedder(dimension=128)
    return CliRunner().invoke(
        cli, list(args), obj=AppContext(None, None, embedder_factory=lambda _: made)
    )


def config_file(path: Path, data: Path, backend: str) -> Path:
    path.write_text(f'data_dir = "{data}"\n\n[storage]\nbackend = "{backend}"\n', encoding="utf-8")
    return path


def results(data: Path, backend: str, query: str, mode: str) -> list[tuple[str, str]]:
    found = run(
        "--data-dir", str(data), "search", query, "--mode", mode, "--json", "-k", "5",
        embedder=HashingEmbedder(dimension=128),
    )  # fmt: skip
    assert found.exit_code == 0, found.output
    return [(h["title"], h["text"]) for h in json.loads(found.output)]


def test_migrate_to_milvus_and_back_without_embedding(tmp_path: Path) -> None:
    source = tmp_path / "sqlite"
    assert (
        run("--data-dir", str(source), "ingest", str(write_articles(tmp_path / "in"))).exit_code
        == 0
    )
    milvus = config_file(tmp_path / "milvus.toml", tmp_path / "milvus-data", "milvus")
    moved = run("--data-dir", str(source), "migrate", "--to", str(milvus), embedder=NoEmbedding())
    assert moved.exit_code == 0, moved.output
    assert "2 articles copied, 0 already there; 2 articles and 2 passages in both" in moved.output
    again = run("--data-dir", str(source), "migrate", "--to", str(milvus), embedder=NoEmbedding())
    assert "0 articles copied, 2 already there" in again.output

    back = config_file(tmp_path / "back.toml", tmp_path / "back-data", "sqlite")
    returned = run("--config", str(milvus), "migrate", "--to", str(back), embedder=NoEmbedding())
    assert returned.exit_code == 0, returned.output
    for query, mode in [("ceasefire talks", "dense"), ("grain ports", "keyword")]:
        expected = results(source, "sqlite", query, mode)
        assert expected
        assert results(tmp_path / "back-data", "sqlite", query, mode) == expected


def test_migrated_vectors_and_metadata_are_the_same(tmp_path: Path) -> None:
    source = Config(data_dir=tmp_path / "a")
    target = Config(data_dir=tmp_path / "b", storage=StorageConfig(backend="milvus"))
    with KnowledgeBase.open(source, HashingEmbedder()) as kb:
        kb.ingest(
            [write_articles(tmp_path / "in")],
        )
        original = {a.key: a for a in kb.list_articles()}
        vectors = {
            a.key: [kb.passage_vectors([p.id])[p.id].tolist() for p in kb.passages_of(a.id)]
            for a in original.values()
        }
    with open_backend(source, tmp_path / "a") as src, open_backend(target, tmp_path / "b") as dst:
        report = copy_library(src, dst)
    assert (report.copied, report.articles) == (2, 2)
    with KnowledgeBase.open(target, NoEmbedding()) as kb:
        for article in kb.list_articles():
            before = original[article.key]
            assert (article.title, article.text, article.published, article.outlet) == (
                before.title,
                before.text,
                before.published,
                before.outlet,
            )
            copied = [kb.passage_vectors([p.id])[p.id].tolist() for p in kb.passages_of(article.id)]
            assert copied == vectors[article.key]
        # Re-ingesting the same files finds everything unchanged: the digests travelled.
        report_again = kb.ingest([tmp_path / "in"])
        assert report_again.unchanged == 2


def test_migrating_a_library_onto_itself_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("--data-dir", str(data), "ingest", str(write_articles(tmp_path / "in")))
    same = config_file(tmp_path / "same.toml", data, "sqlite")
    result = run("--data-dir", str(data), "migrate", "--to", str(same))
    assert result.exit_code == 1
    assert "the target is the library itself" in result.output
