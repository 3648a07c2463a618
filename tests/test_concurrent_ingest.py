"""Several processes on one data folder: each article stored once, every process's vector
index in step with what the others wrote.

Two knowledge bases opened on one folder in one test behave as two processes would (each
has its own SQLite connections and its own FAISS index in memory); the last test runs two
real processes, made to collide: both have read and prepared every article before either
writes.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashingEmbedder
from test_knowledge_base import article

from index import Config, KnowledgeBase, ParsedArticle
from index.knowledge_base import DB_NAME, INDEX_NAME, embedding_text
from index.storage.health import check_store

ROUNDS = 20


@pytest.fixture
def two(config: Config) -> Iterator[tuple[KnowledgeBase, KnowledgeBase]]:
    first = KnowledgeBase.open(config, HashingEmbedder())
    second = KnowledgeBase.open(config, HashingEmbedder())
    yield first, second
    first.close()
    second.close()


def before_writing(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], object]
) -> None:
    """Run `meanwhile` once, after `kb` has prepared its articles and before it writes."""
    write = kb._write
    done: list[bool] = []

    def delayed(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            meanwhile()
        return write(*args, **kwargs)

    monkeypatch.setattr(kb, "_write", delayed)


def sound(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    """The folder's files agree, every passage's vector is that of its article's text as
    stored now, and reopening the folder rebuilds nothing."""
    data_dir = config.resolved_data_dir()
    assert check_store(data_dir / DB_NAME, data_dir / INDEX_NAME).healthy
    caplog.clear()
    embedder = HashingEmbedder()
    with caplog.at_level(logging.WARNING), KnowledgeBase.open(config, embedder) as kb:
        assert kb.stats().vectors == kb.stats().passages
        for stored in kb.list_articles():
            passages = kb.passages_of(stored.id)
            title = kb.embedding_title(stored.title)
            texts = [embedding_text(title, p.text, include_title=True) for p in passages]
            expected = embedder.embed_documents(texts)
            vectors = kb.passage_vectors([p.id for p in passages])
            for passage, vector in zip(passages, expected, strict=True):
                assert np.allclose(vectors[passage.id], vector), stored.title
    assert "rebuilding" not in caplog.text


def test_articles_another_process_stored_meanwhile_are_not_stored_again(
    two: tuple[KnowledgeBase, KnowledgeBase],
    config: Config,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = two
    batch = [article(n) for n in range(1, 6)]
    reports = []
    before_writing(first, monkeypatch, lambda: reports.append(second.ingest_articles(batch)))

    report = first.ingest_articles(batch)

    assert (reports[0].added, report.added, report.unchanged) == (5, 0, 5)
    assert first.article_count() == 5
    sound(config, caplog)


def test_what_another_process_changed_meanwhile_is_reconciled(
    two: tuple[KnowledgeBase, KnowledgeBase],
    config: Config,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = two
    first.ingest_articles([article(2), article(3)])
    ours = [
        article(1),  # new
        article(2, outlet="Other Outlet"),  # only its metadata changes
        article(3, text="Story three, rewritten by us. It now reads differently."),
    ]

    def other_process() -> None:
        second.ingest_articles(
            [
                article(1, text="Story one, as the other process had it. Quite different."),
                article(3, author="Someone"),
            ]
        )
        second.remove(second.store.article_id("url:https://news.example/2") or 0)

    before_writing(first, monkeypatch, other_process)
    report = first.ingest_articles(ours)

    # Ours win, each stored once: article 2 was removed meanwhile, so it is added again,
    # with passages made for it then.
    assert (report.added, report.updated, report.unchanged) == (1, 2, 0)
    stored = {a.url: a for a in first.list_articles()}
    assert len(stored) == 3
    assert stored["https://news.example/1"].text == article(1).text
    assert stored["https://news.example/2"].outlet == "Other Outlet"
    assert stored["https://news.example/2"].passage_count > 0
    assert stored["https://news.example/3"].text.startswith("Story three, rewritten")
    hits = first.search("rewritten differently", mode="dense", k=1)
    assert hits[0].article.url == "https://news.example/3"
    sound(config, caplog)


def test_a_search_sees_what_another_process_stored(
    two: tuple[KnowledgeBase, KnowledgeBase],
) -> None:
    first, second = two
    first.ingest_articles([article(1)])
    assert first.search("topic1", mode="dense", k=1)[0].article.title == "Title 1"
    second.ingest_articles([article(2)])
    assert first.search("topic2 story 2", mode="dense", k=1)[0].article.title == "Title 2"


def test_a_write_after_another_processs_keeps_its_vectors(
    two: tuple[KnowledgeBase, KnowledgeBase],
    config: Config,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = two
    second.ingest_articles([article(n) for n in range(1, 4)])
    first.ingest_articles([article(n) for n in range(4, 6)])  # no search in between
    second.remove(second.store.article_id("url:https://news.example/4") or 0)
    first.close()
    second.close()
    sound(config, caplog)
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        titles = {
            kb.search(f"topic{n} story {n}", mode="dense", k=1)[0].article.title
            for n in (1, 2, 3, 5)
        }
        assert titles == {"Title 1", "Title 2", "Title 3", "Title 5"}


# -- two real processes ------------------------------------------------------------------


def ingest_rounds(data_root: str, folder: str, barrier: Any, rounds: int, results: Any) -> None:
    """In a child process: `geobot ingest FOLDER` into a fresh data folder each round,
    waiting before the write until the other process is ready to write too."""
    from click.testing import CliRunner

    from bot.cli import AppContext, cli

    write = KnowledgeBase._write

    def synchronised(self: KnowledgeBase, *args: Any, **kwargs: Any) -> Any:
        barrier.wait(timeout=120)  # a guard against a hang, not a timing
        return write(self, *args, **kwargs)

    KnowledgeBase._write = synchronised  # type: ignore[method-assign]
    for n in range(rounds):
        result = CliRunner().invoke(
            cli,
            ["--data-dir", f"{data_root}/{n}", "ingest", folder],
            obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=64)),
        )
        results.put((n, result.exit_code, result.output, repr(result.exception)))


def write_folder(folder: Path, numbers: range) -> None:
    folder.mkdir(parents=True)
    for n in numbers:
        parsed: ParsedArticle = article(n)
        (folder / f"a{n}.md").write_text(
            f"---\ntitle: {parsed.title}\nurl: {parsed.url}\n---\n{parsed.text}\n"
        )


def test_two_processes_ingesting_overlapping_folders_at_once(tmp_path: Path) -> None:
    write_folder(tmp_path / "left", range(1, 7))
    write_folder(tmp_path / "right", range(4, 10))  # 4, 5, 6 in both
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    root = str(tmp_path / "data")
    workers = [
        context.Process(
            target=ingest_rounds, args=(root, str(tmp_path / side), barrier, ROUNDS, results)
        )
        for side in ("left", "right")
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in range(2 * ROUNDS)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    added: dict[int, int] = {}
    for n, exit_code, output, exception in outcomes:
        assert (exit_code, exception) == (0, "None"), output
        match = re.search(r"added (\d+), updated 0, unchanged (\d+), failed 0", output)
        assert match, output
        assert int(match[1]) + int(match[2]) == 6
        added[n] = added.get(n, 0) + int(match[1])
    assert added == dict.fromkeys(range(ROUNDS), 9)  # each article added by one of them
    for n in range(ROUNDS):
        data_dir = tmp_path / "data" / str(n)
        health = check_store(data_dir / DB_NAME, data_dir / INDEX_NAME)
        assert health.healthy and health.articles == 9, (n, health)
