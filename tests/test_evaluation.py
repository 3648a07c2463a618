"""The RealTimeQA evaluation: loading, scoring rules, caching, and a smoke run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import HashingEmbedder, chat_completion
from local_http import LocalHTTPServer

from bot.answers.service import AnswerService
from bot.cli import AppContext, cli
from bot.config import AnswerConfig
from bot.evaluation.realtimeqa import (
    contains_answer,
    corpus_key,
    load_dataset,
    normalise,
    open_corpus,
)
from bot.evaluation.scoring import evaluate
from index import Config

SHARED_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "realtimeqa" / "dev"


def write_week(folder: Path) -> Path:
    """Two questions in the RealTimeQA format, written for these tests."""
    folder.mkdir(parents=True, exist_ok=True)
    questions = [
        {
            "question_id": "20240105_0",
            "question_date": "2024/01/05",
            "question_source": "Test Quiz",
            "question_url": "https://quiz.example/1",
            "question_sentence": "Which port city did the storm Zephyr flood this week?",
            "choices": ["Lisbon", "Porto", "Valencia", "Genoa"],
            "answer": ["1"],
            "evidence": "",
        },
        {
            "question_id": "20240105_1",
            "question_date": "2024/01/05",
            "question_source": "Test Quiz",
            "question_url": "https://quiz.example/2",
            "question_sentence": "Which team won the curling final?",
            "choices": ["Norway", "Sweden", "Scotland", "Canada"],
            "answer": ["3"],
            "evidence": "",
        },
    ]
    results = [
        {
            "question_id": "20240105_0",
            "search_time": "2024/01/05",
            "search_result": [
                {
                    "url": "https://news.example/zephyr",
                    "title": "Storm Zephyr floods port",
                    "text": "Storm Zephyr flooded the  port city of\\nPORTO on Tuesday. "
                    "Hundreds of homes were evacuated along the river.",
                    "authors": ["A. Writer"],
                    "publish_date": "2024/01/03",
                },
                {
                    "url": "https://news.example/weather",
                    "title": "Winter weather outlook",
                    "text": "Forecasters expect more storms across Europe this winter.",
                    "authors": "",
                    "publish_date": "",
                },
            ],
        },
        {
            "question_id": "20240105_1",
            "search_time": "2024/01/05",
            "search_result": [
                {
                    "url": "https://news.example/weather",
                    "title": "Winter weather outlook",
                    "text": "Forecasters expect more storms across Europe this winter.",
                    "authors": "",
                    "publish_date": "",
                }
            ],
        },
    ]
    (folder / "20240105_qa.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
    )
    (folder / "20240105_gcs.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in results), encoding="utf-8"
    )
    return folder


def test_loading_follows_the_dataset_rules(tmp_path: Path) -> None:
    dataset = load_dataset(write_week(tmp_path / "week"))
    assert [q.answers for q in dataset.questions] == [("Porto",), ("Canada",)]
    assert len(dataset.articles) == 2  # de-duplicated by URL
    assert dataset.questions[0].asked_on.isoformat() == "2024-01-05"
    zephyr = next(a for a in dataset.articles if a.url.endswith("zephyr"))  # type: ignore[union-attr]
    assert zephyr.published is not None and zephyr.published.date().isoformat() == "2024-01-03"
    assert zephyr.author == "A. Writer"
    assert dataset.subset(1).articles and len(dataset.subset(1).questions) == 1


def test_matching_is_case_and_whitespace_insensitive() -> None:
    assert normalise("Port  City\n of\tPORTO") == "port city of porto"
    assert contains_answer("flooded the  port city of\nPORTO", ["porto"])
    assert not contains_answer("Portugal", ["Porto "])


def test_evaluate_scores_answerable_questions_only(tmp_path: Path) -> None:
    dataset = load_dataset(write_week(tmp_path / "week"))
    config = Config()
    kb = open_corpus(dataset, config, HashingEmbedder(dimension=128), tmp_path / "cache")
    report = evaluate(dataset, AnswerService(kb, AnswerConfig(min_confidence=0.3)))
    assert report.questions == 2
    assert report.answerable == 1  # no article says "Canada"
    assert report.recall_at_1 == report.recall_at_5 == 1.0
    assert report.mrr_at_10 == 1.0
    assert report.answer_hit == 1.0
    assert report.results[0].first_hit_rank == 1
    assert not report.results[1].answerable
    assert 0 < report.mean_answer_words <= 100
    # Trust: the one answerable question is answered and holds the answer.
    assert report.coverage == 1.0
    porto = report.results[0]
    assert porto.would_hit and porto.confidence is not None and porto.evidence is not None
    kb.close()


def test_the_risk_coverage_table_replays_the_decline_threshold(tmp_path: Path) -> None:
    """Each row is what the service would score had it declined under that threshold."""
    dataset = load_dataset(write_week(tmp_path / "week"))
    kb = open_corpus(dataset, Config(), HashingEmbedder(dimension=128), tmp_path / "cache")
    rows = {}
    for threshold in (0.0, 0.3, 0.9):
        service = AnswerService(kb, AnswerConfig(min_confidence=threshold))
        report = evaluate(dataset, service)
        row = next(r for r in report.risk_coverage if r.threshold == threshold)
        # The table row at the service's own threshold is the service's own figures.
        assert (row.coverage, row.answer_hit) == (report.coverage, report.answer_hit)
        assert row.declined_unanswerable == report.declined_unanswerable
        answered = [r for r in report.results if not r.declined]
        precision = sum(r.answerable and r.answer_hit for r in answered) / max(len(answered), 1)
        assert row.precision == report.precision == precision
        rows[threshold] = row
    assert rows[0.0].coverage == 1.0 and rows[0.0].declined_unanswerable == 0.0
    assert rows[0.9].coverage == 0.0 and rows[0.9].declined_unanswerable == 1.0
    kb.close()


def test_corpus_index_is_kept_between_runs(tmp_path: Path) -> None:
    dataset = load_dataset(write_week(tmp_path / "week"))
    embedder = HashingEmbedder(dimension=128)
    open_corpus(dataset, Config(), embedder, tmp_path / "cache").close()
    embedded = embedder.documents_embedded
    open_corpus(dataset, Config(), embedder, tmp_path / "cache").close()
    assert embedder.documents_embedded == embedded > 0


def test_eval_command_prints_the_figures(tmp_path: Path) -> None:
    week = write_week(tmp_path / "week")
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path / "d"), "eval", "realtimeqa", str(week), "--json"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    assert figures["answerable"] == 1 and figures["questions"] == 2
    assert set(figures) >= {
        "recall_at_1",
        "recall_at_5",
        "recall_at_10",
        "mrr_at_10",
        "answer_hit",
        "mean_answer_words",
        "declined",
    }


@pytest.mark.model
@pytest.mark.skipif(not SHARED_DEV.is_dir(), reason="the shared RealTimeQA dev set is not here")
def test_smoke_on_the_shared_dev_week(tmp_path: Path, real_embedder: object) -> None:
    """Two real questions of one real week, over the articles found for them."""
    dataset = load_dataset(SHARED_DEV / "20230106_qa.jsonl").subset(2)
    kb = open_corpus(dataset, Config(), real_embedder, tmp_path / "cache")  # type: ignore[arg-type]
    report = evaluate(dataset, AnswerService(kb, AnswerConfig()))
    kb.close()
    assert report.questions == 2 and report.answerable >= 1
    assert report.recall_at_10 > 0


def test_eval_llm_scores_the_written_answers(tmp_path: Path, local_http: LocalHTTPServer) -> None:
    """With --llm the answers scored are the model's (checked) ones, from the same passages."""
    week = write_week(tmp_path / "week")
    reply = "Storm Zephyr flooded the port city of Porto [1]."
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")
    details = tmp_path / "details.jsonl"
    args = ["eval", "realtimeqa", str(week), "--json", "--llm", "--details", str(details)]
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1"), "GEOBOT_ANSWERS__MIN_CONFIDENCE": "0"}
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path / "d"), *args],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
        env=env,
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output[result.output.index("{") :])
    assert figures["answer_hit"] == 1.0
    rows = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    porto = next(r for r in rows if r["id"] == "20240105_0")
    assert porto["answer"].startswith("Storm Zephyr flooded the port city of Porto. [1]")
    assert len(local_http.requests_to("/v1/chat/completions")) == 2  # one per question


def test_corpus_index_survives_a_fresh_copy_of_the_files(tmp_path: Path) -> None:
    # The same weekly files copied elsewhere, with new timestamps: the same index.
    week = write_week(tmp_path / "week")
    embedder = HashingEmbedder(dimension=128)
    open_corpus(load_dataset(week), Config(), embedder, tmp_path / "cache").close()
    embedded = embedder.documents_embedded
    copy = shutil.copytree(week, tmp_path / "elsewhere" / "week")
    for path in copy.iterdir():
        os.utime(path, (1_000_000_000, 1_000_000_000))
    open_corpus(load_dataset(copy), Config(), embedder, tmp_path / "cache").close()
    assert embedder.documents_embedded == embedded > 0


def test_corpus_index_follows_a_changed_article(tmp_path: Path) -> None:
    week = write_week(tmp_path / "week")
    dataset = load_dataset(week)
    changed = dataclasses.replace(dataset.articles[0], text=dataset.articles[0].text + " More.")
    edited = dataclasses.replace(dataset, articles=(changed, *dataset.articles[1:]))
    assert corpus_key(dataset, "m", "c") != corpus_key(edited, "m", "c")
    assert corpus_key(dataset, "m", "c") == corpus_key(load_dataset(week), "m", "c")
    assert corpus_key(dataset, "m", "c") != corpus_key(dataset, "other", "c")
