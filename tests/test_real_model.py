"""The knowledge base on the real bundled model and the real seed article."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SEED
from fakes import HashingEmbedder

from index import Config, KnowledgeBase, ModelMismatchError
from index.config import IngestConfig
from index.knowledge_base import INDEX_NAME
from index.sources.files import parse_file

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parent.parent
TITLE = (
    "Upcoming trilateral meeting captures attention amid U.S.-Japan coalition vs. "
    "China-N. Korea partnership"
)
FIRST_PARAGRAPH_START = "U.S. President Joe Biden and Japanese Prime Minister Fumio Kishida agreed"
FIRST_PARAGRAPH_END = "first visited since the COVID-19 pandemic broke out."


@pytest.fixture
def seeded(config: Config, real_embedder: object) -> KnowledgeBase:
    kb = KnowledgeBase.open(config, real_embedder)  # type: ignore[arg-type]
    report = kb.ingest([SEED.parent])
    assert (report.added, report.failed) == (1, ())
    return kb


def test_seed_article_is_parsed_exactly() -> None:
    [article] = parse_file(SEED).articles
    assert article.title == TITLE
    assert article.published == datetime(2024, 4, 12, 7, 53)
    assert article.text.startswith(FIRST_PARAGRAPH_START)
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].endswith(FIRST_PARAGRAPH_END)
    for boilerplate in ("Go to contents", "Posted", "Updated", TITLE):
        assert boilerplate not in article.text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_search_returns_first_body_paragraph_first(seeded: KnowledgeBase, mode: str) -> None:
    hits = seeded.search("Biden Kishida alliance upgrade", mode=mode)  # type: ignore[arg-type]
    top = hits[0]
    assert top.passage.text.startswith(FIRST_PARAGRAPH_START)
    assert top.passage.text.endswith(FIRST_PARAGRAPH_END)
    assert top.article.title == TITLE
    assert top.article.published == datetime(2024, 4, 12, 7, 53)
    seeded.close()


def test_passages_fit_the_real_tokenizer_window(
    seeded: KnowledgeBase, real_embedder: object
) -> None:
    embedder = real_embedder
    article = seeded.list_articles()[0]
    for passage in seeded.store.passages_of(article.id):
        embedded = f"{article.title}\n{passage.text}"
        assert embedder.count_tokens([embedded])[0] + embedder.special_tokens <= 256  # type: ignore[attr-defined]
    seeded.close()


def test_reingest_is_idempotent(seeded: KnowledgeBase) -> None:
    before = seeded.stats()
    report = seeded.ingest([SEED])
    assert (report.added, report.updated, report.unchanged, report.passages_embedded) == (
        0,
        0,
        1,
        0,
    )
    after = seeded.stats()
    assert (after.articles, after.passages, after.vectors) == (
        before.articles,
        before.passages,
        before.vectors,
    )
    seeded.close()


def test_update_and_remove(seeded: KnowledgeBase, tmp_path: Path) -> None:
    changed = tmp_path / "seed-v2.txt"
    text = SEED.read_text(encoding="utf-8").replace(
        "a bilateral summit talk in Washington", "a bilateral summit talk in Tokyo"
    )
    changed.write_text(text, encoding="utf-8")
    # No URL: identity is the text, so an edited copy is a new article beside the old.
    assert seeded.ingest([changed]).added == 1
    article_id = max(a.id for a in seeded.list_articles())
    hits = seeded.search("summit talk in Tokyo", mode="keyword")
    assert hits[0].article.id == article_id
    seeded.remove(article_id)
    assert not any(h.article.id == article_id for h in seeded.search("summit in Tokyo", k=20))
    stats = seeded.stats()
    assert (stats.articles, stats.vectors) == (1, stats.passages)
    seeded.close()


def test_changed_version_with_same_url_replaces_passages(
    config: Config, real_embedder: object, tmp_path: Path
) -> None:
    body = SEED.read_text(encoding="utf-8")
    v1 = tmp_path / "v1.md"
    v1.write_text(f"---\ntitle: {TITLE}\nurl: https://example.org/a\n---\n{body}", "utf-8")
    with KnowledgeBase.open(config, real_embedder) as kb:  # type: ignore[arg-type]
        assert kb.ingest([v1]).added == 1
        v1.write_text(
            f"---\ntitle: {TITLE}\nurl: https://example.org/a\n---\n"
            "Kishida and Biden signed a new semiconductor pact in Tokyo.",
            "utf-8",
        )
        report = kb.ingest([v1])
        assert (report.added, report.updated) == (0, 1)
        assert kb.stats().articles == 1
        top = kb.search("semiconductor pact", mode="dense")[0]
        assert "semiconductor" in top.passage.text
        assert kb.stats().passages == 1


def test_bad_files_are_reported_and_the_rest_goes_in(
    config: Config, real_embedder: object, tmp_path: Path
) -> None:
    small = config.model_copy(update={"ingest": IngestConfig(max_file_bytes=8_000)})
    with KnowledgeBase.open(small, real_embedder) as kb:  # type: ignore[arg-type]
        kb.ingest([SEED])
        before = kb.stats()
        folder = tmp_path / "inbox"
        folder.mkdir()
        (folder / "empty.txt").write_text("")
        (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
        (folder / "latin1.txt").write_bytes("Caf\xe9 au lait in Par\xeds".encode("latin-1"))
        (folder / "huge.txt").write_text("word " * 5_000)
        (folder / "broken.json").write_text('{"title": "x", "text": ')
        (folder / "mixed.jsonl").write_text(
            '{"title": "Good", "text": "Ukraine and Poland signed a grain deal.", '
            '"url": "https://example.org/grain"}\nnot json at all\n'
        )
        report = kb.ingest([folder, tmp_path / "does-not-exist"])
        reasons = {Path(f.source.split(":")[0]).name: f.reason for f in report.failed}
        assert set(reasons) == {
            "empty.txt",
            "binary.txt",
            "latin1.txt",
            "huge.txt",
            "broken.json",
            "mixed.jsonl",
            "does-not-exist",
        }
        assert "empty" in reasons["empty.txt"]
        assert "binary" in reasons["binary.txt"]
        assert "UTF-8" in reasons["latin1.txt"]
        assert "limit" in reasons["huge.txt"]
        assert "JSON" in reasons["broken.json"]
        assert report.added == 1
        after = kb.stats()
        assert after.articles == before.articles + 1
        assert kb.search("grain deal", mode="keyword")[0].article.title == "Good"
        assert kb.search("Biden Kishida alliance", mode="dense")[0].article.title == TITLE


@pytest.mark.parametrize(
    "query", ['"unbalanced', "Biden AND (", "NEAR(x y", "*", "Kishida:", "-^", "中国 外交"]
)
def test_fts5_special_characters(seeded: KnowledgeBase, query: str) -> None:
    for mode in ("keyword", "hybrid"):
        seeded.search(query, mode=mode)
    assert seeded.search('"Kishida" AND (alliance', mode="keyword")[0].article.title == TITLE
    seeded.close()


def test_model_mismatch_names_reindex(seeded: KnowledgeBase, config: Config) -> None:
    seeded.close()
    with pytest.raises(ModelMismatchError, match="geobot reindex"):
        KnowledgeBase.open(config, HashingEmbedder(model_id="another-model"))


_CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path[:0] = [{repo!r}]
    from index import Config, KnowledgeBase
    from index.config import EmbeddingConfig
    from index.embedding.factory import load_embedder
    from index.storage.sqlite_store import SQLiteStore

    embedder = load_embedder(EmbeddingConfig(), cache_dir=Path({cache!r}))
    kb = KnowledgeBase.open(Config(data_dir=Path({data!r})), embedder)
    SQLiteStore.commit = lambda self: os._exit(17)  # die after the FAISS write
    kb.ingest([Path({extra!r})])
    """
)


def test_crash_between_faiss_write_and_commit(
    seeded: KnowledgeBase,
    config: Config,
    real_embedder: object,
    data_dir: Path,
    tmp_path: Path,
    onnx_cache: Path,
) -> None:
    expected = [h.passage.id for h in seeded.search("volcano eruption Iceland", k=4)]
    seeded.close()
    extra = tmp_path / "volcano.txt"
    extra.write_text(
        "Volcano erupts near Reykjavik\n\nA volcano erupted in Iceland on Monday, "
        "forcing the evacuation of the fishing town of Grindavik.\n",
        encoding="utf-8",
    )
    script = _CRASH.format(
        repo=str(REPO), data=str(data_dir), extra=str(extra), cache=str(onnx_cache)
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == 17, result.stderr.decode()[-2000:]
    with KnowledgeBase.open(config, real_embedder) as kb:  # type: ignore[arg-type]
        stats = kb.stats()
        assert (stats.articles, stats.vectors) == (1, stats.passages)
        assert [h.passage.id for h in kb.search("volcano eruption Iceland", k=4)] == expected
        assert kb.ingest([extra]).added == 1
        assert kb.search("volcano eruption Iceland", k=1)[0].article.title.startswith("Volcano")
    assert (data_dir / INDEX_NAME).exists()


# -- answers on the real model --------------------------------------------------------


def test_seed_question_is_answered_with_the_alliance_upgrade(seeded: KnowledgeBase) -> None:
    from bot.answers.citations import verify
    from bot.answers.service import AnswerService

    service = AnswerService(seeded)
    answer = service.ask("What did Biden and Kishida agree on?")
    assert not answer.declined
    assert "comprehensive alliance upgrade program" in answer.citations[0].quote
    assert answer.text.startswith(answer.citations[0].quote + " [1]")
    assert answer.sources[0].title == TITLE
    assert answer.sources[0].published == datetime(2024, 4, 12, 7, 53)
    verify(answer, seeded)
    seeded.close()


def test_unanswerable_seed_question_is_declined(seeded: KnowledgeBase) -> None:
    from bot.answers.service import AnswerService

    answer = AnswerService(seeded).ask("Who won the 2018 FIFA World Cup?")
    assert answer.declined
    assert answer.text.startswith("I couldn't find this in the 1 article I have")
    assert not answer.citations
    seeded.close()


def test_real_follow_up_about_china(seeded: KnowledgeBase) -> None:
    from bot.answers.chat import Conversation
    from bot.answers.service import AnswerService

    conversation = Conversation(AnswerService(seeded))
    first = conversation.ask("What did Biden and Kishida agree on?")
    follow_up = conversation.ask("And how did China respond?")
    assert not follow_up.declined
    assert "China" in follow_up.text
    assert not {c.start for c in first.citations} & {c.start for c in follow_up.citations}
    seeded.close()


@pytest.mark.parametrize("question", ["", "?!?!", "x" * 10_000, "中国外交部说了什么"])
def test_real_model_odd_questions(seeded: KnowledgeBase, question: str) -> None:
    from bot.answers.service import AnswerService

    answer = AnswerService(seeded).ask(question)
    assert answer.declined and answer.text
    seeded.close()


def test_real_article_summary(seeded: KnowledgeBase) -> None:
    from bot.answers.citations import verify
    from bot.answers.service import AnswerService

    article = seeded.list_articles()[0]
    summary = AnswerService(seeded).summarize_article(article.id)
    verify(summary, seeded)
    assert 3 <= len(summary.citations) <= 6
    assert summary.citations[0].quote.startswith(FIRST_PARAGRAPH_START)
    seeded.close()
