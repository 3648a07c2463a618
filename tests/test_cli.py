"""The `geobot` command line, driven in-process with a fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import SEED, STORAGE_BACKENDS
from fakes import HashingEmbedder

from bot.cli import AppContext, cli, main

# The default decline threshold is calibrated for the real model; the fake embedder's
# similarities run lower, so the CLI runs here with a threshold that suits it.
FAKE_EMBEDDER_ENV = {"GEOBOT_ANSWERS__MIN_CONFIDENCE": "0.3"}


def run(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    env = {**FAKE_EMBEDDER_ENV, **(env or {})}
    extra = ["--data-dir", str(data_dir)] if data_dir else []
    return runner.invoke(
        cli,
        [*extra, *args],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
        env=env,
    )


run_with = run


def write_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.md").write_text(
        "---\ntitle: Talks resume in Cairo\noutlet: Wire One\ncountry: eg\n"
        "published: 2024-04-15\nurl: https://news.example/a\n---\n"
        "Negotiators met in Cairo as ceasefire talks resumed. Mediators proposed a truce.\n",
        encoding="utf-8",
    )
    (folder / "b.jsonl").write_text(
        json.dumps(
            {
                "title": "Grain exports rise",
                "text": "Ukraine exported more grain through Black Sea ports.",
                "url": "https://news.example/b",
                "source": "Kyiv Post",
                "published": "2024-03-02",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize("backend", STORAGE_BACKENDS)
def test_ingest_then_sources_search_stats_remove(tmp_path: Path, backend: str) -> None:
    def run(*args: str, data_dir: Path) -> Result:
        return run_with(*args, data_dir=data_dir, env={"GEOBOT_STORAGE__BACKEND": backend})

    data = tmp_path / "data"
    folder = write_articles(tmp_path / "in")
    result = run("ingest", str(folder), str(SEED), data_dir=data)
    assert result.exit_code == 0, result.output
    assert "added 3, updated 0, unchanged 0, failed 0" in result.output
    again = run("ingest", str(folder), data_dir=data)
    assert "added 0, updated 0, unchanged 2" in again.output

    listed = json.loads(run("sources", "--json", data_dir=data).output)
    assert {a["title"] for a in listed} >= {"Talks resume in Cairo", "Grain exports rise"}
    cairo = next(a for a in listed if a["title"] == "Talks resume in Cairo")
    assert (cairo["outlet"], cairo["country"], cairo["published"][:10]) == (
        "Wire One",
        "EG",
        "2024-04-15",
    )

    hits = json.loads(run("search", "ceasefire Cairo", "--json", "-k", "2", data_dir=data).output)
    assert hits[0]["title"] == "Talks resume in Cairo"
    assert set(hits[0]) >= {"rank", "score", "title", "outlet", "published", "text"}
    text = run("search", "grain", "--mode", "keyword", data_dir=data).output
    assert "Grain exports rise" in text and "Kyiv Post" in text
    filtered = json.loads(
        run("search", "talks grain", "--since", "2024-04-13", "--json", data_dir=data).output
    )
    assert {h["title"] for h in filtered} <= {"Talks resume in Cairo"}
    by_outlet = json.loads(
        run("search", "talks grain", "--outlet", "kyiv post", "--json", data_dir=data).output
    )
    assert {h["title"] for h in by_outlet} == {"Grain exports rise"}

    stats = json.loads(run("stats", "--json", data_dir=data).output)
    assert stats["articles"] == 3 and stats["passages"] == stats["vectors"]
    assert stats["index_factory"].startswith("milvus:") == (backend == "milvus")
    assert (data / "milvus.db").exists() == (backend == "milvus")

    removed = run("remove", str(cairo["id"]), data_dir=data)
    assert "removed article" in removed.output
    assert json.loads(run("stats", "--json", data_dir=data).output)["articles"] == 2
    checked = run("check", data_dir=data)
    assert checked.exit_code == 0 and "healthy" in checked.output, checked.output
    asked = run("ask", "What did Ukraine export?", data_dir=data)
    assert asked.exit_code == 0 and "Grain exports rise" in asked.output, asked.output


def test_reindex_rebuilds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("ingest", str(write_articles(tmp_path / "in")), data_dir=data)
    result = run("reindex", data_dir=data)
    assert "reindexed" in result.output and "rebuilt from stored vectors" in result.output


def test_bad_files_are_listed_and_exit_status_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    result = run("ingest", str(bad), data_dir=data)
    assert result.exit_code == 1
    assert "bad.json" in result.output and "JSON" in result.output


def test_data_dir_from_environment(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    result = run("ingest", str(SEED), env={"GEOBOT_DATA_DIR": str(data)})
    assert result.exit_code == 0
    assert (data / "geobot.sqlite3").exists()


def test_config_typo_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[search]\nkk = 3\n")
    result = run("--config", str(config), "sources", data_dir=tmp_path / "d")
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.count("\n") == 0
    assert line.startswith("Error: ") and "search.kk" in line and "unknown setting" in line


def test_missing_config_file(tmp_path: Path) -> None:
    result = run("sources", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1
    assert "configuration file not found" in result.output


def test_unknown_article_is_a_clear_error(tmp_path: Path) -> None:
    result = run("remove", "42", data_dir=tmp_path / "d")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no article with id 42"


def test_main_exits_with_status_one_on_library_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("not = [valid")
    with pytest.raises(SystemExit) as exit_info:
        main(["sources", "--config", str(config)])
    assert exit_info.value.code == 1
    assert "is not valid TOML" in capsys.readouterr().err


def test_ask_prints_answer_sources_and_footer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("ingest", str(write_articles(tmp_path / "in")), data_dir=data)
    out = run("ask", "What did mediators propose in the Cairo ceasefire talks?", data_dir=data)
    assert "[1]" in out.output
    assert "Talks resume in Cairo — Wire One (EG), 15 Apr 2024" in out.output
    assert "https://news.example/a" in out.output
    as_json = json.loads(
        run("ask", "ceasefire talks Cairo", "--json", "--as-of", "2024-04-17", data_dir=data).output
    )
    assert set(as_json) >= {"text", "citations", "sources", "declined", "window", "timings"}
    assert as_json["citations"][0]["quote"] in as_json["text"]


def test_ask_bad_date_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), "ask", "x", "--since", "last tuesday"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder()),
    )
    assert result.exit_code != 0
    assert "is not a date" in result.output


def test_summarize_needs_exactly_one_target(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path), "summarize"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder()),
    )
    assert result.exit_code != 0
    assert "exactly one of --article" in result.output


def test_chat_follow_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run("ingest", str(write_articles(tmp_path / "in")), data_dir=data)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["--data-dir", str(data), "chat"],
        input="What did mediators propose in Cairo?\n/new\n/quit\n",
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
        env=FAKE_EMBEDDER_ENV,
    )
    assert result.exit_code == 0, result.output
    assert "Mediators proposed a truce. [1]" in result.output
    assert "(new conversation)" in result.output


def test_check_of_a_sound_library_and_of_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    nothing = run("check", data_dir=data)
    assert nothing.exit_code == 0 and "no library here yet" in nothing.output
    run("ingest", str(write_articles(tmp_path / "in")), data_dir=data)
    result = run("check", data_dir=data)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "database:  ok (geobot.sqlite3; 2 articles, 2 passages)"
    assert lines[2] == "vectors:   ok (vectors.faiss)"
    assert lines[-1] == "healthy"
    assert json.loads(run("check", "--json", data_dir=data).output)["healthy"] is True
