"""The knowledge base with real SQLite and FAISS and a fake embedder."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from conftest import STORAGE_BACKENDS
from fakes import HashingEmbedder

from index import (
    Config,
    KnowledgeBase,
    ModelMismatchError,
    NotFoundError,
    ParsedArticle,
    QueryError,
)
from index.config import ChunkingConfig, VectorIndexConfig
from index.knowledge_base import INDEX_NAME

REPO = Path(__file__).resolve().parent.parent
# Tests of SQLite + FAISS in particular (the index file, its factory, FAISS threads).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(params=STORAGE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def article(n: int, text: str | None = None, **extra: object) -> ParsedArticle:
    body = text or (
        f"Story {n} opens with a first sentence about topic{n}. "
        f"The second sentence adds detail number {n}.\n\n"
        f"A new paragraph in story {n} closes it."
    )
    fields: dict[str, object] = {
        "title": f"Title {n}",
        "text": body,
        "source": f"mem:{n}",
        "url": f"https://news.example/{n}",
        "outlet": "Example News",
        "published": datetime(2024, 1, n % 28 + 1, 12, 0),
    }
    fields.update(extra)
    return ParsedArticle(**fields)  # type: ignore[arg-type]


def test_ingest_stores_articles_and_passages(kb: KnowledgeBase) -> None:
    report = kb.ingest_articles([article(1), article(2)])
    assert (report.added, report.updated, report.unchanged) == (2, 0, 0)
    stats = kb.stats()
    assert stats.articles == 2
    assert stats.passages == stats.vectors == report.passages_embedded > 0


def test_passage_text_and_sentences_are_exact_spans(kb: KnowledgeBase) -> None:
    kb.ingest_articles([article(1)])
    stored = kb.list_articles()[0]
    passages = kb.store.passages_of(stored.id)
    for passage in passages:
        assert stored.text[passage.start : passage.end] == passage.text
        for span in passage.sentences:
            assert passage.start <= span.start < span.end <= passage.end
            assert stored.text[span.start : span.end].strip() == stored.text[span.start : span.end]


def test_hits_are_shown_with_the_passages_and_articles_stored(kb: KnowledgeBase) -> None:
    # Characters outside ASCII: passages are cut by character, as SQL's substr cuts them.
    long_story = " ".join(
        f"Sentence {i} of the long story in Zürich adds “fact” {i}." for i in range(60)
    )
    kb.ingest_articles([article(1), article(2, long_story), article(3)])
    ids = [h.passage.id for h in kb.search("story", k=100, mode="keyword")] + [999_999]
    passages, articles = kb.store.passages_with_articles(ids)
    assert set(passages) == set(ids) - {999_999}  # an id no longer stored is left out
    assert len({p.article_id for p in passages.values()}) == 3
    assert passages == kb.store.passages(ids)
    assert articles == kb.store.articles(sorted({p.article_id for p in passages.values()}))
    for passage in passages.values():
        assert articles[passage.article_id].text[passage.start : passage.end] == passage.text
    assert kb.store.passages_with_articles([]) == ({}, {})
    sqlite = getattr(kb.store, "sqlite", None)
    if sqlite is not None:  # also inside a read snapshot its caller holds
        with sqlite.snapshot():
            assert kb.store.passages_with_articles(ids) == (passages, articles)


def test_reingest_is_idempotent_and_embeds_nothing(
    kb: KnowledgeBase, fake_embedder: HashingEmbedder
) -> None:
    kb.ingest_articles([article(1), article(2)])
    embedded = fake_embedder.documents_embedded
    before = [(a.id, a.text) for a in kb.list_articles()]
    report = kb.ingest_articles([article(1), article(2)])
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)
    assert fake_embedder.documents_embedded == embedded
    assert [(a.id, a.text) for a in kb.list_articles()] == before


def test_changed_article_replaces_its_passages(kb: KnowledgeBase) -> None:
    kb.ingest_articles([article(1)])
    original = kb.list_articles()[0]
    old_ids = {p.id for p in kb.store.passages_of(original.id)}
    report = kb.ingest_articles([article(1, text="Entirely rewritten copy about zebras.")])
    assert (report.added, report.updated) == (0, 1)
    updated = kb.get_article(original.id)
    assert updated.text == "Entirely rewritten copy about zebras."
    new_ids = {p.id for p in kb.store.passages_of(original.id)}
    assert not old_ids & new_ids
    assert kb.stats().vectors == kb.stats().passages
    hits = kb.search("zebras", mode="keyword")
    assert hits and hits[0].article.id == original.id
    assert not kb.search("topic1", mode="keyword")
    dense = kb.search("rewritten zebras", mode="dense", k=50)
    assert {h.passage.id for h in dense} <= new_ids | {
        p.id for a in kb.list_articles() for p in kb.store.passages_of(a.id)
    }


def test_metadata_only_change_updates_without_embedding(
    kb: KnowledgeBase, fake_embedder: HashingEmbedder
) -> None:
    kb.ingest_articles([article(1)])
    embedded = fake_embedder.documents_embedded
    report = kb.ingest_articles([article(1, outlet="Other Outlet")])
    assert report.updated == 1
    assert fake_embedder.documents_embedded == embedded
    assert kb.list_articles()[0].outlet == "Other Outlet"


def test_article_without_url_is_identified_by_text(kb: KnowledgeBase) -> None:
    a = article(1, url=None)
    b = article(1, url=None, source="elsewhere")
    kb.ingest_articles([a])
    assert kb.ingest_articles([b]).unchanged == 1
    spaced = article(1, url=None, text=a.text.replace(" ", "  "))
    assert kb.ingest_articles([spaced]).added == 0


def test_same_article_twice_in_one_run_is_stored_once(kb: KnowledgeBase) -> None:
    report = kb.ingest_articles([article(1), article(1, text="A later copy of story one.")])
    assert report.added == 1
    assert kb.stats().articles == 1
    assert kb.list_articles()[0].text == "A later copy of story one."


def test_remove_deletes_everywhere(kb: KnowledgeBase, config: Config) -> None:
    kb.ingest_articles([article(1), article(2)])
    target = next(a for a in kb.list_articles() if a.title == "Title 1")
    kb.remove(target.id)
    assert kb.stats().articles == 1
    assert kb.stats().vectors == kb.stats().passages
    assert not kb.search("topic1", mode="keyword")
    assert all(h.article.id != target.id for h in kb.search("topic1 story", mode="dense", k=20))
    with pytest.raises(NotFoundError):
        kb.remove(target.id)
    # Survives a reopen without any rebuild being needed.
    reopened = KnowledgeBase.open(config, HashingEmbedder())
    assert reopened.stats().articles == 1
    reopened.close()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_search_modes_find_the_matching_article(kb: KnowledgeBase, mode: str) -> None:
    kb.ingest_articles([article(n) for n in range(1, 30)])
    hits = kb.search("topic17 detail number 17", mode=mode, k=3)  # type: ignore[arg-type]
    assert hits[0].article.title == "Title 17"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_hybrid_fuses_both_rankings(kb: KnowledgeBase) -> None:
    kb.ingest_articles([article(n) for n in range(1, 10)])
    hit = kb.search("topic3", mode="hybrid", k=1)[0]
    assert hit.dense_score is not None and hit.keyword_score is not None


def test_filters_still_return_k_results(kb: KnowledgeBase) -> None:
    # 40 articles in January 2024, one of them from another outlet.
    articles = [article(n, published=datetime(2024, 1, 1 + n % 28)) for n in range(1, 40)]
    articles.append(article(99, outlet="Rare Outlet", published=datetime(2023, 6, 1)))
    kb.ingest_articles(articles)
    since = datetime(2024, 1, 15)  # 14 of the 40 articles, one passage each
    for mode in ("dense", "keyword", "hybrid"):
        hits = kb.search("story sentence paragraph", mode=mode, k=10, since=since)
        assert len(hits) == 10
        assert all(h.article.published and h.article.published >= since for h in hits)
        rare = kb.search("story", mode=mode, k=5, outlet="rare outlet")
        assert {h.article.outlet for h in rare} == {"Rare Outlet"}
        assert len(rare) == len(kb.store.passages_of(rare[0].article.id))
    until = kb.search("story", mode="dense", k=5, until=datetime(2023, 12, 31))
    assert {h.article.title for h in until} == {"Title 99"}


@pytest.mark.parametrize(
    "query",
    [
        'he said "hello',
        "NEAR(a b) AND OR NOT",
        "title:topic1 *",
        "-topic1 ^story",
        "(((",
        "a + b - c",
        "'; DROP TABLE articles; --",
        "üñíçødé wörds",
    ],
)
def test_keyword_search_never_raises_on_fts5_syntax(kb: KnowledgeBase, query: str) -> None:
    kb.ingest_articles([article(1)])
    for mode in ("keyword", "hybrid", "dense"):
        kb.search(query, mode=mode)
    assert kb.stats().articles == 1


def test_punctuation_only_query_finds_nothing_by_keyword(kb: KnowledgeBase) -> None:
    kb.ingest_articles([article(1)])
    assert kb.search("?!... ***", mode="keyword") == []


def test_empty_query_is_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError, match="empty"):
        kb.search("   ")


def test_passages_fit_the_model_window(config: Config) -> None:
    embedder = HashingEmbedder(max_tokens=40)
    cfg = config.model_copy(update={"chunking": ChunkingConfig(target_tokens=30)})
    long_sentence = " ".join(f"word{i}" for i in range(150)) + "."
    text = "Short opener. " * 30 + "\n\n" + long_sentence
    with KnowledgeBase.open(cfg, embedder) as kb:
        kb.ingest_articles([article(1, text=text)])
        stored = kb.list_articles()[0]
        passages = kb.store.passages_of(stored.id)
        assert len(passages) > 5
        for p in passages:
            embedded = f"{stored.title}\n{p.text}"
            assert embedder.count_tokens([embedded])[0] + 2 <= 40
        covered = "".join(stored.text[s.start : s.end] for p in passages for s in p.sentences)
        assert "word149" in covered and "word0" in covered


def test_consecutive_passages_overlap_by_one_sentence(kb: KnowledgeBase, config: Config) -> None:
    cfg = config.model_copy(update={"chunking": ChunkingConfig(target_tokens=16)})
    text = " ".join(f"Sentence number {i} is here." for i in range(20))
    with KnowledgeBase.open(cfg, HashingEmbedder(), data_dir=config.data_dir / "o") as other:  # type: ignore[operator]
        other.ingest_articles([article(1, text=text)])
        passages = other.store.passages_of(other.list_articles()[0].id)
        assert len(passages) > 2
        for first, second in itertools.pairwise(passages):
            assert first.sentences[-1] == second.sentences[0]


def test_model_mismatch_is_a_clear_error(config: Config) -> None:
    with KnowledgeBase.open(config, HashingEmbedder(model_id="model-a")) as kb:
        kb.ingest_articles([article(1)])
    with pytest.raises(ModelMismatchError, match="geobot reindex"):
        KnowledgeBase.open(config, HashingEmbedder(model_id="model-b"))
    with pytest.raises(ModelMismatchError):
        KnowledgeBase.open(config, HashingEmbedder(model_id="model-a", dimension=32))


def test_reindex_with_a_new_model_reembeds_everything(config: Config) -> None:
    with KnowledgeBase.open(config, HashingEmbedder(model_id="model-a")) as kb:
        kb.ingest_articles([article(n) for n in range(1, 6)])
        passages = kb.stats().passages
    new_model = HashingEmbedder(model_id="model-b", dimension=32)
    with KnowledgeBase.open(config, new_model, allow_model_change=True) as kb:
        embedded = kb.reindex()
        assert embedded == passages == new_model.documents_embedded
        assert kb.stats().model == "model-b" and kb.stats().dimension == 32
        assert kb.search("topic3", mode="dense", k=1)[0].article.title == "Title 3"
    with KnowledgeBase.open(config, HashingEmbedder(model_id="model-b", dimension=32)) as kb:
        assert kb.stats().vectors == passages


def test_reindex_same_model_rebuilds_index_only(
    kb: KnowledgeBase, fake_embedder: HashingEmbedder
) -> None:
    kb.ingest_articles([article(1), article(2)])
    embedded = fake_embedder.documents_embedded
    assert kb.reindex() == 0
    assert fake_embedder.documents_embedded == embedded
    assert kb.stats().vectors == kb.stats().passages


@sqlite_only
def test_missing_or_corrupt_index_is_rebuilt_on_open(
    config: Config, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 5)])
        expected = [h.passage.id for h in kb.search("topic2", mode="dense")]
    (data_dir / INDEX_NAME).unlink()
    with caplog.at_level("WARNING"), KnowledgeBase.open(config, HashingEmbedder()) as kb:
        assert [h.passage.id for h in kb.search("topic2", mode="dense")] == expected
    assert "rebuilding vector index" in caplog.text and "missing" in caplog.text
    (data_dir / INDEX_NAME).write_bytes(b"not a faiss file")
    caplog.clear()
    with caplog.at_level("WARNING"), KnowledgeBase.open(config, HashingEmbedder()) as kb:
        assert [h.passage.id for h in kb.search("topic2", mode="dense")] == expected
    assert "rebuilding vector index" in caplog.text


@sqlite_only
def test_changing_the_factory_rebuilds_with_it(config: Config) -> None:
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 20)])
        expected = kb.search("topic7", mode="dense", k=1)[0].article.title
    hnsw = config.model_copy(update={"index": VectorIndexConfig(factory="HNSW16")})
    with KnowledgeBase.open(hnsw, HashingEmbedder()) as kb:
        assert kb.stats().index_factory == "HNSW16"
        assert kb.search("topic7", mode="dense", k=1)[0].article.title == expected
        # HNSW cannot delete: removal must rebuild and stay correct.
        kb.remove(kb.search("topic7", mode="dense", k=1)[0].article.id)
        assert kb.stats().vectors == kb.stats().passages


@pytest.mark.parametrize("factory", ["SQfp16", "Flat"])
@sqlite_only
def test_single_query_search_uses_its_own_thread_count_and_leaves_the_callers(
    config: Config, factory: str
) -> None:
    import faiss

    settings = VectorIndexConfig(factory=factory, search_threads=1)
    with KnowledgeBase.open(config.model_copy(update={"index": settings}), HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 20)])
        faiss.omp_set_num_threads(2)
        hits = kb.search("topic7", mode="dense", k=3)
        assert faiss.omp_get_max_threads() == 2
        assert hits[0].article.title == article(7).title
        assert kb.stats().index_factory == factory


_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from pathlib import Path
    sys.path[:0] = [{repo!r}, {tests!r}]
    from fakes import HashingEmbedder
    from index import Config, KnowledgeBase, ParsedArticle
    from index.storage.sqlite_store import SQLiteStore

    def crash(self):
        # The FAISS file is already written with the new generation; die before COMMIT.
        os._exit(17)

    kb = KnowledgeBase.open(Config(data_dir=Path({data!r})), HashingEmbedder())
    SQLiteStore.commit = crash
    kb.ingest_articles([ParsedArticle(title="Crash story", text="Volcano erupts in Iceland.",
        source="mem", url="https://news.example/crash", published=datetime(2024, 2, 2))])
    """
)


@sqlite_only
def test_crash_between_index_write_and_commit_loses_nothing(
    config: Config, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 4)])
        before = [h.passage.id for h in kb.search("volcano iceland story", mode="dense", k=50)]
    index_before = (data_dir / INDEX_NAME).read_bytes()
    script = _CRASH_SCRIPT.format(repo=str(REPO), tests=str(REPO / "tests"), data=str(data_dir))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 17, result.stderr.decode()
    # The crash happened after the new index file was renamed into place.
    assert (data_dir / INDEX_NAME).read_bytes() != index_before
    header = json.loads((data_dir / INDEX_NAME).read_bytes().split(b"\n", 1)[0])
    assert header["count"] > len(before)
    with caplog.at_level("WARNING"), KnowledgeBase.open(config, HashingEmbedder()) as kb:
        assert "rebuilding vector index" in caplog.text
        assert kb.stats().articles == 3
        assert kb.stats().vectors == kb.stats().passages
        hits = kb.search("volcano iceland story", mode="dense", k=50)
        assert sorted(h.passage.id for h in hits) == sorted(before)
        assert all(h.article.title != "Crash story" for h in hits)
        # The interrupted article goes in cleanly on the next try.
        report = kb.ingest_articles(
            [
                ParsedArticle(
                    title="Crash story",
                    text="Volcano erupts in Iceland.",
                    source="mem",
                    url="https://news.example/crash",
                )
            ]
        )
        assert report.added == 1
        assert kb.search("volcano", mode="keyword")[0].article.title == "Crash story"
        assert kb.search("volcano iceland", mode="dense")[0].article.title == "Crash story"


@sqlite_only
def test_failed_commit_in_process_leaves_search_consistent(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb.ingest_articles([article(1)])
    from index.storage.sqlite_store import SQLiteStore

    def boom(self: SQLiteStore) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(SQLiteStore, "commit", boom)
    with pytest.raises(OSError):
        kb.ingest_articles([article(2)])
    monkeypatch.undo()
    assert kb.stats().articles == 1
    assert kb.stats().vectors == kb.stats().passages
    assert all(h.article.title == "Title 1" for h in kb.search("story", mode="dense", k=10))


def test_search_from_many_threads(kb: KnowledgeBase) -> None:
    from concurrent.futures import ThreadPoolExecutor

    kb.ingest_articles([article(n) for n in range(1, 20)])
    queries = [f"topic{n}" for n in range(1, 20)] * 5
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda q: kb.search(q, k=1)[0].article.title, queries))
    assert results == [f"Title {n}" for n in range(1, 20)] * 5


def test_required_terms_bound_the_scored_postings() -> None:
    ranked = [(10, "kishida"), (40, "alliance"), (900, "summit"), (3000, "president")]
    assert KnowledgeBase._required_terms(ranked, 0) is None
    assert KnowledgeBase._required_terms(ranked, 5000) is None  # 3,950 postings: all scored
    assert KnowledgeBase._required_terms(ranked, 100) == '"kishida" OR "alliance"'
    assert KnowledgeBase._required_terms(ranked, 5) == '"kishida"'  # at least the rarest


# The scored-postings budget bounds FTS5's bm25 work; Milvus bounds its own.
@sqlite_only
def test_a_budgeted_keyword_search_scores_only_passages_with_the_rare_words(
    config: Config,
) -> None:
    articles = [
        article(n, f"Common words fill story {n}. The summit met again in city {n}.")
        for n in range(1, 30)
    ]
    articles.append(article(99, "The summit met in Hiroshima, where the alliance was upgraded."))
    tight = config.model_copy(
        update={"search": config.search.model_copy(update={"scored_postings": 3})}
    )
    with KnowledgeBase.open(tight, HashingEmbedder()) as kb:
        kb.ingest_articles(articles)
        hits = kb.search("summit alliance Hiroshima", mode="keyword", k=10)
        # Only the passage holding the rare words is scored, with every word counting.
        assert [h.article.title for h in hits] == [article(99, "x").title]
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        hits = kb.search("summit alliance Hiroshima", mode="keyword", k=10)
        assert hits[0].article.title == article(99, "x").title
        assert len(hits) == 10  # unbudgeted: every passage with "summit" too


def test_document_frequency_counts_the_passages_holding_a_word(kb: KnowledgeBase) -> None:
    # The answer's term rarity: exact on both backends while the library is small (Milvus
    # counts in a sample of passages that holds the whole library).
    kb.ingest_articles([article(1), article(2, text="Kharkiv was shelled overnight.")])

    def holding(word: str) -> int:
        return sum(
            1
            for stored in kb.list_articles()
            for passage in kb.store.passages_of(stored.id)
            if word in passage.text.lower()
        )

    assert holding("story") > 0
    for word in ("story", "kharkiv", "topic1", "absentword"):
        assert kb.document_frequency(word) == holding(word)
    kb.ingest_articles([article(3, text="Kharkiv again: more shelling in Kharkiv.")])
    assert kb.document_frequency("kharkiv") == holding("kharkiv") == 2
