"""What a newcomer meets at the command line: an empty library says how to fill it, a
usage error is one line (exit status 2), and a bad argument is refused before the
embedding model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder, LazyHashingEmbedder
from test_cli import write_articles

from bot.cli import AppContext, cli, main
from index import Embedder

EMPTY = "The library is empty (no articles in {data_dir})."
HOW_TO_FILL = (
    "Add articles with `geobot ingest PATH_OR_URL...`, or follow a news feed with "
    "`geobot feeds add URL` then `geobot feeds poll`."
)


def invoke(*args: str, embedder: Embedder | None = None, input: str | None = None) -> Result:
    """`geobot ARGS` in-process; without `embedder`, the configured model (lazily)."""
    factory = None if embedder is None else (lambda _config: embedder)
    return CliRunner().invoke(
        cli, list(args), obj=AppContext(None, None, embedder_factory=factory), input=input
    )


@pytest.fixture
def model_never_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the real model fails the test: the default lazy embedder stays unloaded."""

    def load(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr("index.embedding.factory.load_embedder", load)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A data dir holding three articles (built with the fake model)."""
    data = tmp_path / "library"
    folder = write_articles(tmp_path / "in")
    result = invoke("--data-dir", str(data), "ingest", str(folder), embedder=HashingEmbedder(128))
    assert result.exit_code == 0, result.output
    return data


# -- an empty library ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (["search", "ceasefire talks"], ""),
        (["search", "ceasefire talks", "--json"], "[]"),
        (["sources"], ""),
        (["sources", "--json"], "[]"),
        (["ask", "Who met in Cairo?"], ""),
        (["summarize", "--article", "99"], ""),
        (["summarize", "--topic", "grain exports"], ""),
        (["chat"], ""),
    ],
)
def test_empty_library_says_how_to_fill_it_without_the_model(
    tmp_path: Path, model_never_loads: None, args: list[str], stdout: str
) -> None:
    data = tmp_path / "fresh"
    result = invoke("--data-dir", str(data), *args, input="Who met in Cairo?\n")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{EMPTY.format(data_dir=data)} {HOW_TO_FILL}\n"
    assert result.stdout.strip() == stdout
    assert not data.exists()  # reading an empty library creates nothing


@pytest.mark.parametrize(
    ("args", "question", "kind"),
    [
        (["ask", "Who met in Cairo?"], "Who met in Cairo?", "answer"),
        (["summarize", "--topic", "grain"], "grain", "topic_summary"),
        (["summarize", "--article", "7"], "Summary of article 7", "article_summary"),
    ],
)
def test_empty_library_json_answer_is_a_declined_answer(
    tmp_path: Path, model_never_loads: None, args: list[str], question: str, kind: str
) -> None:
    result = invoke("--data-dir", str(tmp_path / "fresh"), *args, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["declined"] is True and answer["sources"] == [] == answer["citations"]
    assert (answer["question"], answer["kind"]) == (question, kind)
    assert answer["text"] == "I have no articles yet, so I can't answer this."
    assert "The library is empty" in result.stderr


def test_empty_library_stats_still_shows_the_figures(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    result = invoke("--data-dir", str(data), "stats", "--json", embedder=LazyHashingEmbedder())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["articles"] == 0
    assert result.stderr.startswith(EMPTY.format(data_dir=data))


def test_a_library_with_articles_says_nothing_of_emptiness(library: Path) -> None:
    for args in (["sources"], ["search", "grain"], ["stats"]):
        result = invoke("--data-dir", str(library), *args, embedder=HashingEmbedder(128))
        assert result.exit_code == 0, result.output
        assert result.stderr == "" and result.stdout


# -- usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["ask2", "x"], "no such command 'ask2' (did you mean 'ask'?); see 'geobot --help'"),
        (
            ["feeds", "lst"],
            "no such command 'lst' (did you mean 'list'?); see 'geobot feeds --help'",
        ),
        (
            ["eval", "realtimeq", "x"],
            "no such command 'realtimeq' (did you mean 'realtimeqa'?); see 'geobot eval --help'",
        ),
        (["frobnicate"], "no such command 'frobnicate'; see 'geobot --help'"),
        (["ask"], "missing argument 'QUESTION'; see 'geobot ask --help'"),
        (["eval", "realtimeqa"], "missing argument 'PATH'; see 'geobot eval realtimeqa --help'"),
        (["remove"], "missing argument 'ARTICLE_ID'; see 'geobot remove --help'"),
        (
            ["search", "x", "--mode", "fuzzy"],
            "invalid value for '--mode': 'fuzzy' is not one of 'hybrid', 'dense', 'keyword'; "
            "see 'geobot search --help'",
        ),
        (
            ["sources", "--limit", "many"],
            "invalid value for '--limit': 'many' is not a valid integer; "
            "see 'geobot sources --help'",
        ),
        (
            ["ask", "x", "--since", "2024-13-45"],
            "invalid value for '--since': '2024-13-45' is not a date (use YYYY-MM-DD); "
            "see 'geobot ask --help'",
        ),
        (
            ["feeds", "add", "https://x.example/rss", "--country", "Britain"],
            "invalid value for '--country': 'Britain' is not a two-letter country code such "
            "as GB; see 'geobot feeds add --help'",
        ),
        (
            ["sources", "--lim", "3"],
            "no such option '--lim' (did you mean '--limit'?); see 'geobot sources --help'",
        ),
        (
            ["feeds", "list", "--jsn"],
            "no such option '--jsn' (did you mean '--json'?); see 'geobot feeds list --help'",
        ),
        (["--zzz", "sources"], "no such option '--zzz'; see 'geobot --help'"),
        (
            ["summarize"],
            "give exactly one of --article ID or --topic TEXT; see 'geobot summarize --help'",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_status_2(
    model_never_loads: None, args: list[str], line: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {line}\n"
    assert result.stdout == ""


def test_main_exits_with_status_two_on_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serch", "x"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "Error: no such command 'serch' (did you mean 'search'?); see 'geobot --help'\n"
    )
    assert captured.out == ""


def test_library_errors_are_one_line_with_exit_status_1(tmp_path: Path) -> None:
    result = invoke("--data-dir", str(tmp_path), "remove", "42", embedder=LazyHashingEmbedder())
    assert result.exit_code == 1
    assert (result.stdout, result.stderr) == ("", "Error: no article with id 42\n")


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--help"], "Usage: geobot [OPTIONS] COMMAND [ARGS]..."),
        (["ask", "--help"], "Usage: geobot ask [OPTIONS] QUESTION"),
        (["feeds", "add", "-h"], "Usage: geobot feeds add [OPTIONS] URL"),
        (["eval", "--help"], "Usage: geobot eval [OPTIONS] COMMAND [ARGS]..."),
    ],
)
def test_help_is_still_the_full_help(args: list[str], first_line: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == first_line
    assert "Options:" in result.stdout and "--help" in result.stdout


# -- arguments checked before the model loads -------------------------------------------


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["ask", "x", "--since", "2024-13-45"], 2, "'2024-13-45' is not a date"),
        (["ask", "x", "--as-of", "last week"], 2, "'last week' is not a date"),
        (
            ["ask", "x", "--since", "2024-05-01", "--until", "2024-04-01"],
            2,
            "--since 2024-05-01 is after --until 2024-04-01",
        ),
        (
            ["search", "x", "--since", "2024-05-02", "--until", "2024-05-01"],
            2,
            "--since 2024-05-02 is after --until 2024-05-01",
        ),
        (
            ["summarize", "--topic", "x", "--since", "2024-05-02", "--until", "2024-05-01"],
            2,
            "is after --until",
        ),
        (["ask", "x", "--country", "Britain"], 2, "'Britain' is not a two-letter country code"),
        (["search", "x", "--country", "GBR"], 2, "'GBR' is not a two-letter country code"),
        (["ask", "   "], 2, "invalid value for 'QUESTION': it is empty"),
        (["search", ""], 2, "invalid value for 'QUERY': it is empty"),
        (["summarize", "--topic", " "], 2, "invalid value for '--topic': it is empty"),
        (["summarize", "--article", "99"], 1, "no article with id 99"),
        (["chat", "--as-of", "tomorrow"], 2, "'tomorrow' is not a date"),
        (["remove", "99"], 1, "no article with id 99"),
    ],
)
def test_bad_arguments_are_refused_before_the_model_loads(
    library: Path, args: list[str], status: int, message: str
) -> None:
    embedder = LazyHashingEmbedder()
    result = invoke("--data-dir", str(library), *args, embedder=embedder)
    assert result.exit_code == status, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not embedder.loaded


def test_config_errors_come_before_the_model_loads(library: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[answers]\nmin_relevanse = 0.3\n")
    embedder = LazyHashingEmbedder()
    result = invoke(
        "--config", str(config), "--data-dir", str(library), "ask", "x", embedder=embedder
    )
    assert result.exit_code == 1
    assert "answers.min_relevanse" in result.stderr and result.stderr.count("\n") == 1
    assert not embedder.loaded


def test_a_good_question_does_load_the_model(library: Path) -> None:
    """The control for the tests above: the fake records a load when there is one."""
    embedder = LazyHashingEmbedder()
    result = invoke("--data-dir", str(library), "summarize", "--article", "1", embedder=embedder)
    assert result.exit_code == 0, result.output
    assert embedder.loaded
