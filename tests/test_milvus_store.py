"""The Milvus backend on Milvus Lite: what its lack of transactions must not cost.

A process is killed at each step of an article's write (before the head row names the new
version, and after it but before the old version's rows go); the library reopened shows
the old article or the new one, never a mixture, loses nothing committed, and is clean
again (every passage row is of its article's current version). The rest of the backend
runs the knowledge-base suite (tests/test_knowledge_base.py), parametrised.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import HashingEmbedder
from test_knowledge_base import article

from index import Config, KnowledgeBase, ParsedArticle
from index.config import StorageConfig
from index.storage.milvus_backend import MilvusBackend
from index.storage.milvus_schema import article_id_candidates, passage_id_for

REPO = Path(__file__).resolve().parent.parent

# Kills the process at the n-th write (upsert or delete) to the articles collection whose
# rows include a head row (n=1: the head's upsert; "delete": the old version's removal).
_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    from pathlib import Path
    from fakes import HashingEmbedder
    from test_knowledge_base import article
    from index import Config, KnowledgeBase
    from index.config import StorageConfig
    from index.storage.milvus_client import MilvusCollections

    original = MilvusCollections.request
    def request(self, method, *args, **kwargs):
        if {when!r} == "head" and method == "upsert" and args[0] == self.articles:
            if any(row["part"] == 0 for row in args[1]):
                os._exit(17)
        if {when!r} == "cleanup" and method == "delete" and args[0] == self.passages:
            os._exit(17)
        return original(self, method, *args, **kwargs)
    MilvusCollections.request = request

    config = Config(data_dir=Path({data!r}), storage=StorageConfig(backend="milvus"))
    kb = KnowledgeBase.open(config, HashingEmbedder())
    kb.ingest_articles([article(1, text={text!r}), article(7)])
    """
)

NEW_TEXT = "Volcano erupts in Iceland after weeks of tremors. Flights are grounded."


def _crash(data_dir: Path, when: str) -> None:
    script = _CRASH_SCRIPT.format(
        repo=str(REPO), tests=str(REPO / "tests"), data=str(data_dir), when=when, text=NEW_TEXT
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 17, result.stderr.decode()[-2000:]


@pytest.fixture
def milvus_config(data_dir: Path) -> Config:
    return Config(data_dir=data_dir, storage=StorageConfig(backend="milvus"))


def _stored_rows(kb: KnowledgeBase) -> tuple[int, int]:
    """(passage rows, passage rows of their article's current version)."""
    store = kb.store
    assert isinstance(store, MilvusBackend)
    rows = store.query_all(store.passages_name, "id > 0", {}, ["id"])
    current = store.passages([int(r["id"]) for r in rows])
    return len(rows), len(current)


def test_a_write_killed_before_its_head_row_leaves_the_old_article(
    milvus_config: Config, data_dir: Path
) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 4)])
        before = kb.get_article(kb.store.article_id("url:https://news.example/1") or 0)
        passages_before = kb.passages_of(before.id)
    _crash(data_dir, "head")
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        # The old text, its passages, nothing of the new one; no seventh article.
        assert kb.get_article(before.id) == before
        assert kb.passages_of(before.id) == passages_before
        assert kb.article_count() == 3
        assert all("Volcano" not in h.passage.text for h in kb.search("volcano iceland", k=20))
        # The new version's rows were swept at open.
        rows, current = _stored_rows(kb)
        assert rows == current == kb.stats().passages
        report = kb.ingest_articles([article(1, text=NEW_TEXT)])
        assert report.updated == 1
        assert kb.search("volcano iceland", mode="keyword")[0].article.id == before.id


def test_a_write_killed_after_its_head_row_leaves_the_new_article(
    milvus_config: Config, data_dir: Path
) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 4)])
        article_id = kb.store.article_id("url:https://news.example/1") or 0
    _crash(data_dir, "cleanup")
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        assert kb.get_article(article_id).text == NEW_TEXT
        assert [p.text for p in kb.passages_of(article_id)] == [NEW_TEXT]
        hits = kb.search("story 1 opens topic1", mode="keyword", k=20)
        assert all(h.passage.text in h.article.text for h in hits)
        assert hits and all("topic1" not in h.passage.text for h in hits)
        rows, current = _stored_rows(kb)
        assert rows == current == kb.stats().passages


def test_rows_of_an_unfinished_write_are_never_shown(milvus_config: Config) -> None:
    # A server sweeps a dead writer's rows only after an hour: until then searches find
    # them, and they must not come back as hits.
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 6)])
        store = kb.store
        assert isinstance(store, MilvusBackend)
        target = kb.get_article(store.article_id("url:https://news.example/2") or 0)
        stray = [
            {
                "id": passage_id_for(target.key, "an-unfinished-version", 0),
                "article_id": target.id,
                "version": "an-unfinished-version",
                "ordinal": 0,
                "start": 0,
                "end": 5,
                "sentences": "[[0, 5]]",
                "text": "zanzibar zanzibar zanzibar",
                "vector": HashingEmbedder().embed_query("zanzibar").tolist(),
                "published": None,
                "outlet_lc": None,
                "country_lc": None,
                "written_at": 0,
            },
            {  # a passage of an article whose head was never written
                "id": passage_id_for("url:nowhere", "v", 0),
                "article_id": article_id_candidates("url:nowhere")[0],
                "version": "v",
                "ordinal": 0,
                "start": 0,
                "end": 5,
                "sentences": "[[0, 5]]",
                "text": "zanzibar",
                "vector": HashingEmbedder().embed_query("zanzibar").tolist(),
                "published": None,
                "outlet_lc": None,
                "country_lc": None,
                "written_at": 0,
            },
        ]
        store.collections.request("upsert", store.passages_name, stray)
        for mode in ("dense", "keyword", "hybrid"):
            hits = kb.search("zanzibar", mode=mode, k=10)
            for hit in hits:
                assert hit.passage.text == hit.article.text[hit.passage.start : hit.passage.end]
            assert all("zanzibar" not in h.passage.text for h in hits)
        assert [p.ordinal for p in kb.passages_of(target.id)] == [0]
        assert kb.passages_of(target.id)[0].text.startswith("Story 2")


def test_a_long_article_is_stored_in_pieces_and_read_back_exactly(milvus_config: Config) -> None:
    sentence = "Ministers from Tōkyō and Zürich signed the accord — again. "
    text = sentence * 700  # ~41,000 characters: three VARCHAR pieces
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(1, text=text)])
        stored = kb.list_articles()[0]
        assert stored.text == text
        passages = kb.passages_of(stored.id)
        assert passages[-1].end == len(text.rstrip())
        kb.ingest_articles([article(1, text="A short replacement text.")])
        assert kb.get_article(stored.id).text == "A short replacement text."
        rows, current = _stored_rows(kb)
        assert rows == current == 1


def test_an_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    from index.errors import StoreError

    config = Config(
        data_dir=tmp_path,
        storage=StorageConfig(
            backend="milvus",
            milvus={"uri": "http://127.0.0.1:9", "timeout_s": 2},  # type: ignore[arg-type]
        ),
    )
    with pytest.raises(StoreError) as caught:
        KnowledgeBase.open(config, HashingEmbedder())
    assert "\n" not in str(caught.value)


def test_a_title_search_and_listing_see_new_articles_of_another_writer(
    milvus_config: Config,
) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles(
            [
                ParsedArticle(title="Élysée summit", text="Leaders met in Paris.", source="m"),
                article(3),
            ]
        )
        found = kb.find_articles("élysée")
        assert [a.title for a in found] == ["Élysée summit"]
        assert kb.find_articles(str(found[0].id))[0].id == found[0].id
        assert [a.title for a in kb.list_articles()] == ["Title 3", "Élysée summit"]


def test_a_second_process_on_an_embedded_library_is_told_what_to_do(
    milvus_config: Config, data_dir: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from fakes import HashingEmbedder
        from bot.cli import AppContext, cli
        cli.main(
            args=["--data-dir", {str(data_dir)!r}, "stats"],
            obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder()),
            prog_name="geobot",
        )
        """
    )
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(1)])
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            timeout=300,
            env={**os.environ, "GEOBOT_STORAGE__BACKEND": "milvus"},
        )
    assert result.returncode == 1
    error = result.stderr.decode().strip()
    assert len(error.splitlines()) == 1, error
    assert "another geobot" in error and "milvus_lite server" in error


def test_milvus_own_hybrid_search_finds_and_filters_as_ours(data_dir: Path) -> None:
    ours = Config(data_dir=data_dir, storage=StorageConfig(backend="milvus"))
    engine = ours.model_copy(
        update={
            "storage": StorageConfig(
                backend="milvus",
                milvus={"fusion": "milvus"},  # type: ignore[arg-type]
            )
        }
    )
    with KnowledgeBase.open(ours, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n, outlet=f"Outlet {n % 3}") for n in range(1, 13)])
        expected = [h.passage.id for h in kb.search("topic7 story", k=4)]
        filtered = kb.search("topic7 story", k=4, outlet="outlet 1")
    with KnowledgeBase.open(engine, HashingEmbedder()) as kb:
        assert kb.store.native_hybrid
        hits = kb.search("topic7 story", k=4)
        assert hits[0].article.title == "Title 7"
        assert [h.passage.id for h in hits] == expected
        assert [h.passage.id for h in kb.search("topic7 story", k=4, outlet="outlet 1")] == [
            h.passage.id for h in filtered
        ]
        assert all(h.article.outlet == "Outlet 1" for h in filtered)
