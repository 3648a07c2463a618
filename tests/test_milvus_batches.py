"""The Milvus backend writes a session's articles as one batch: a few requests per batch,
not several per article, and still never a wrong hit when a batch is cut short.

A batch is cut in the middle of its head rows (some articles' commit points written, the
others' not) by a process killed there, and by an error raised there in this process; the
library reopened holds each article of the batch whole, old or new, keeps what earlier
sessions stored, and is clean again after the sweep at open.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fakes import HashingEmbedder
from test_knowledge_base import article

from index import Article, Config, KnowledgeBase, ParsedArticle
from index.config import StorageConfig
from index.errors import StoreError
from index.models import Passage
from index.storage import milvus_schema
from index.storage.milvus_backend import MilvusBackend
from index.storage.rows import ArticleRecord, ArticleRow

REPO = Path(__file__).resolve().parent.parent

NEW_TEXTS = {
    1: "Volcano erupts in Iceland after weeks of tremors. Flights are grounded.",
    2: "Glacier retreat in Patagonia doubles, surveyors report. Tourism adapts.",
    3: "Monsoon floods in Assam displace thousands. Relief camps open.",
}
# One session (`_batch()`, written out for the killed process): three rewrites, then two
# new articles. The heads are written in this order.
BATCH = "[article(n, text=NEW_TEXTS[n]) for n in (1, 2, 3)] + [article(7), article(8)]"
HEADS_WRITTEN = 2  # the cut: articles 1 and 2 reach their commit point, 3, 7 and 8 do not

# Writes only the first HEADS_WRITTEN rows of the batch's head upsert, then dies.
_KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    from pathlib import Path
    from fakes import HashingEmbedder
    from test_knowledge_base import article
    from index import Config, KnowledgeBase
    from index.config import StorageConfig
    from index.storage.milvus_client import MilvusCollections

    NEW_TEXTS = {new_texts!r}
    original = MilvusCollections.request
    def request(self, method, *args, **kwargs):
        if method == "upsert" and args[0] == self.articles:
            rows = args[1]
            if any(row["part"] == 0 for row in rows) and len(rows) > 1:
                original(self, method, args[0], rows[:{heads}], **kwargs)
                os._exit(17)
        return original(self, method, *args, **kwargs)
    MilvusCollections.request = request

    config = Config(data_dir=Path({data!r}), storage=StorageConfig(backend="milvus"))
    kb = KnowledgeBase.open(config, HashingEmbedder())
    kb.ingest_articles({batch})
    """
)


def _batch() -> list[ParsedArticle]:
    return [article(n, text=NEW_TEXTS[n]) for n in (1, 2, 3)] + [article(7), article(8)]


@pytest.fixture
def milvus_config(data_dir: Path) -> Config:
    return Config(data_dir=data_dir, storage=StorageConfig(backend="milvus"))


def _kill_in_batch(data_dir: Path) -> None:
    script = _KILL_SCRIPT.format(
        repo=str(REPO),
        tests=str(REPO / "tests"),
        data=str(data_dir),
        new_texts=NEW_TEXTS,
        heads=HEADS_WRITTEN,
        batch=BATCH,
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 17, result.stderr.decode()[-2000:]


def _fail_in_batch(kb: KnowledgeBase) -> None:
    """The batch's head upsert writes its first HEADS_WRITTEN rows, then fails."""
    store = kb.store
    assert isinstance(store, MilvusBackend)
    collections = store.collections
    original = collections.request

    def request(method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "upsert" and args[0] == collections.articles:
            rows = args[1]
            if any(row["part"] == 0 for row in rows) and len(rows) > 1:
                original(method, args[0], rows[:HEADS_WRITTEN], **kwargs)
                raise StoreError("Milvus: injected failure in the middle of a batch")
        return original(method, *args, **kwargs)

    collections.request = request  # type: ignore[method-assign]
    store.writer.request = request
    with pytest.raises(StoreError, match="injected failure"):
        kb.ingest_articles(_batch())
    collections.request = original  # type: ignore[method-assign]
    store.writer.request = original


def _record(key: str, text: str) -> ArticleRecord:
    return ArticleRecord(
        existing_id=None, key=key, title="Held back", text=text, url=None, outlet=None,
        published=None, country=None, language=None, author=None, source="test",
        content_hash=text, metadata_hash="m",
    )  # fmt: skip


def _stored_rows(store: MilvusBackend) -> tuple[int, int]:
    """(passage rows, passage rows of their article's current version)."""
    rows = store.query_all(store.passages_name, "id > 0", {}, ["id"])
    return len(rows), len(store.passages([int(r["id"]) for r in rows]))


def _count_requests(store: MilvusBackend) -> list[tuple[str, str]]:
    """Record (method, collection) of every request the store makes from now on."""
    seen: list[tuple[str, str]] = []
    collections = store.collections
    original = collections.request

    def request(method: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((method, str(args[0]) if args else ""))
        return original(method, *args, **kwargs)

    collections.request = request  # type: ignore[method-assign]
    store.writer.request = request
    return seen


def _check_each_article_whole(
    kb: KnowledgeBase, before: dict[str, Article], passages_before: dict[int, list[Passage]]
) -> None:
    after = {a.key: a for a in kb.list_articles()}
    # No article of the batch that did not reach its head: 7 and 8 are absent.
    assert set(after) == set(before)
    for key, old in before.items():
        n = int(key.rsplit("/", 1)[1])
        stored = after[key]
        passages = kb.passages_of(stored.id)
        if n <= HEADS_WRITTEN:  # committed: the new text, its passages only
            assert stored.id == old.id and stored.text == NEW_TEXTS[n]
            assert [p.text for p in passages] == [NEW_TEXTS[n]]
        else:  # not committed (3), or not in the batch (4): as it was
            assert stored == old
            assert passages == passages_before[old.id]
    # No hit shows a passage that is not of its article's current text.
    for query in ("monsoon floods assam", "story 7 topic7", "volcano iceland", "story 3"):
        for mode in ("dense", "keyword", "hybrid"):
            for hit in kb.search(query, mode=mode, k=20):
                assert hit.passage.text == hit.article.text[hit.passage.start : hit.passage.end]
                assert "Monsoon" not in hit.passage.text and "topic7" not in hit.passage.text
    assert kb.search("volcano iceland", mode="keyword")[0].article.text == NEW_TEXTS[1]
    assert kb.search("story 3 topic3", mode="keyword")[0].article.title == "Title 3"


def _check_swept_and_resumable(kb: KnowledgeBase) -> None:
    store = kb.store
    assert isinstance(store, MilvusBackend)
    rows, current = _stored_rows(store)
    assert rows == current == kb.stats().passages  # the sweep at open cleaned up
    journal = store.query_all(store.collections.meta, 'key like "write:%"', {}, ["key"])
    assert journal == []
    # The batch written again completes it.
    report = kb.ingest_articles(_batch())
    assert (report.added, report.updated, report.unchanged) == (2, 1, 2)
    assert kb.search("monsoon floods assam", mode="keyword")[0].article.text == NEW_TEXTS[3]
    rows, current = _stored_rows(store)
    assert rows == current == kb.stats().passages


def _stored_before(kb: KnowledgeBase) -> tuple[dict[str, Article], dict[int, list[Passage]]]:
    kb.ingest_articles([article(n) for n in range(1, 5)])
    before = {a.key: a for a in kb.list_articles()}
    return before, {a.id: kb.passages_of(a.id) for a in before.values()}


def test_a_process_killed_between_a_batchs_head_rows_leaves_each_article_whole(
    milvus_config: Config, data_dir: Path
) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        before, passages_before = _stored_before(kb)
    _kill_in_batch(data_dir)
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        _check_each_article_whole(kb, before, passages_before)
        _check_swept_and_resumable(kb)


def test_a_request_failing_between_a_batchs_head_rows_shows_no_wrong_hit(
    milvus_config: Config,
) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        before, passages_before = _stored_before(kb)
        _fail_in_batch(kb)
        # Before any sweep: the rows of the versions not committed are still there.
        store = kb.store
        assert isinstance(store, MilvusBackend)
        rows, current = _stored_rows(store)
        assert rows > current
        _check_each_article_whole(kb, before, passages_before)
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        _check_each_article_whole(kb, before, passages_before)
        _check_swept_and_resumable(kb)


def test_a_session_writes_its_articles_in_a_few_requests(milvus_config: Config) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        store = kb.store
        assert isinstance(store, MilvusBackend)
        kb.ingest_articles([article(n) for n in range(1, 31)])
        seen = _count_requests(store)
        # 20 rewrites, 10 metadata-only changes, 10 new articles: one session.
        report = kb.ingest_articles(
            [article(n, text=f"Rewritten story {n} about zebras.") for n in range(1, 21)]
            + [article(n, outlet="Other Outlet") for n in range(21, 31)]
            + [article(n) for n in range(31, 41)]
        )
        assert (report.added, report.updated) == (10, 30)
        writes = [(method, c) for method, c in seen if method in ("upsert", "delete")]
        # journal; passages; filter fields; heads; old passages, old text rows; journal
        assert len(writes) == 7, writes
        # Reads: one look-up per article before embedding (is it stored unchanged?), then
        # the session's look-up of the batch and its slots.
        assert len(seen) <= 40 + 2 + 7, seen
        # What was written is what is read back.
        assert store.article_count() == 40
        assert len(kb.search("zebras", mode="keyword", k=50)) == 20
        assert {h.article.title for h in kb.search("story", k=50, outlet="other outlet")} == {
            f"Title {n}" for n in range(21, 31)
        }
        rows, current = _stored_rows(store)
        assert rows == current == kb.stats().passages


def test_a_session_sees_its_own_writes_and_the_last_write_of_a_key_wins(
    milvus_config: Config,
) -> None:
    key = "url:https://news.example/99"
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        with kb.store.writing(final=True) as session:
            assert session.find_article(key) is None
            session.store_article(_record(key, "first"), [])
            found = session.find_article(key)
            assert found is not None and found.content_hash == "first"
            session.store_article(_record(key, "second"), [])
            session.store_article(_record(key, "third"), [])
            assert session.find_articles([key, "url:nowhere"]) == {
                key: ArticleRow(found.id, "third", "m")
            }
        assert [a.text for a in kb.list_articles()] == ["third"]


def test_a_session_that_fails_stores_none_of_what_it_held_back(milvus_config: Config) -> None:
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(1)])
        with pytest.raises(RuntimeError), kb.store.writing(final=True) as session:
            session.store_article(_record("url:x", "Never stored."), [])
            raise RuntimeError("the caller failed before the session ended")
        assert [a.title for a in kb.list_articles()] == ["Title 1"]


def test_new_keys_of_one_batch_whose_ids_collide_take_different_slots(
    milvus_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two keys with the same candidate ids (a 52-bit collision, forced): written in one
    # batch, the second must take the next free slot, not overwrite the first.
    shared = [1_000 + n for n in range(8)]
    real = milvus_schema.article_id_candidates
    monkeypatch.setattr(
        "index.storage.milvus_writes.article_id_candidates",
        lambda key: shared if key.endswith(("/1", "/2")) else real(key),
    )
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        store = kb.store
        assert isinstance(store, MilvusBackend)
        kb.ingest_articles([article(1), article(2)])
        assert sorted(a.id for a in kb.list_articles()) == [1_000, 1_001]
        assert sorted(a.title for a in kb.list_articles()) == ["Title 1", "Title 2"]
        assert kb.ingest_articles([article(1), article(2)]).unchanged == 2


def test_a_large_batch_is_split_into_requests_of_bounded_size(
    milvus_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small bounds, so that six long articles (three text pieces each) and their passages
    # need several upserts per step; every row still arrives, the heads after the rest.
    monkeypatch.setattr("index.storage.milvus_writes.ROWS_PER_REQUEST", 4)
    monkeypatch.setattr("index.storage.milvus_writes.SIZE_PER_REQUEST", 20_000)
    sentence = "Ministers from Tōkyō and Zürich signed accord number {n} — again. "
    texts = {n: sentence.format(n=n) * 600 for n in range(1, 7)}  # ~40,000 characters
    with KnowledgeBase.open(milvus_config, HashingEmbedder()) as kb:
        store = kb.store
        assert isinstance(store, MilvusBackend)
        seen: list[tuple[str, int, bool]] = []
        original = store.collections.request

        def request(method: str, *args: Any, **kwargs: Any) -> Any:
            if method == "upsert" and args[0] != store.collections.meta:
                rows = args[1]
                size = sum(
                    len(v) if isinstance(v, str | list) else 1 for r in rows for v in r.values()
                )
                assert len(rows) <= 4 and (len(rows) == 1 or size <= 20_000)
                heads = any(r.get("part") == 0 for r in rows)
                assert not heads or all(r.get("part") == 0 for r in rows)
                seen.append((str(args[0]), len(rows), heads))
            return original(method, *args, **kwargs)

        store.collections.request = request  # type: ignore[method-assign]
        store.writer.request = request
        kb.ingest_articles([article(n, text=texts[n]) for n in texts])
        heads_from = next(i for i, (_, _, heads) in enumerate(seen) if heads)
        assert all(heads for _, _, heads in seen[heads_from:])  # the heads come last
        assert sum(n for _, n, heads in seen if heads) == 6
        assert sum(1 for c, _, heads in seen if c == store.articles_name and not heads) > 3
        for stored in kb.list_articles():
            n = int(stored.key.rsplit("/", 1)[1])
            assert stored.text == texts[n]
            assert "".join(p.text for p in kb.passages_of(stored.id)).count("accord") >= 600
