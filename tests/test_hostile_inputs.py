"""Hostile files and damaged stores through the command line, in-process.

Every case gives clear lines, never a traceback, exits with the status stated, and loses
nothing: the good files given beside a bad one are stored, and a damaged vector index is
rebuilt from the stored vectors. (docs/security.md says what is defended.)
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fakes import HashingEmbedder, chat_completion
from local_http import LocalHTTPServer
from test_store_damage import damage_tables

from bot.cli import AppContext, cli
from index.knowledge_base import DB_NAME, INDEX_NAME

ARTICLES = 50


def run(data: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--data-dir", str(data), *args],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
    )


def clean(result: Result, exit_code: int) -> str:
    """The output, having checked there was no traceback and the exit status."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    assert result.exit_code == exit_code, result.output
    return result.output


def good_article(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"good{n:02d}.txt"
    path.write_text(
        f"Summit number {n} ends\n\nDelegates of summit{n} signed the accord{n} in the "
        f"capital{n} on Tuesday. The talks{n} lasted three days and covered trade.\n",
        encoding="utf-8",
    )
    return path


def titles(data: Path) -> set[str]:
    return {row["title"] for row in json.loads(clean(run(data, "sources", "--json"), 0))}


def failures(output: str) -> dict[str, str]:
    """{file name: reason} of the 'failed:' lines of an ingest."""
    found = {}
    for line in output.splitlines():
        if line.strip().startswith("failed: "):
            where, _, reason = line.strip().removeprefix("failed: ").partition(": ")
            found[Path(where.split(":")[0]).name] = reason
    return found


# -- hostile input files ---------------------------------------------------------------


def test_a_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("Private key of the owner. Do not share this passphrase ever.\n")
    folder = tmp_path / "in"
    good_article(folder, 1)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "secret.txt").symlink_to(secret)
    (folder / "elsewhere").symlink_to(secret.parent, target_is_directory=True)
    data = tmp_path / "data"

    output = clean(run(data, "ingest", str(folder)), 0)

    assert "added 1," in output
    reasons = failures(output)
    assert set(reasons) == {"passwd.txt", "secret.txt", "elsewhere"}
    assert all("outside the folder" in reason for reason in reasons.values())
    assert titles(data) == {"Summit number 1 ends"}
    hits = json.loads(clean(run(data, "search", "passphrase root bash", "--json"), 0))
    assert all("passphrase" not in hit["text"] and "root:" not in hit["text"] for hit in hits)


def test_a_link_named_directly_needs_follow_links(tmp_path: Path) -> None:
    article = good_article(tmp_path / "real", 2)
    link = tmp_path / "link.txt"
    link.symlink_to(article)
    data = tmp_path / "data"

    refused = clean(run(data, "ingest", str(link)), 1)
    assert "symbolic link" in failures(refused)["link.txt"]
    assert "--follow-links" in refused

    followed = clean(run(data, "ingest", "--follow-links", str(link)), 0)
    assert "added 1," in followed
    assert titles(data) == {"Summit number 2 ends"}


def test_nested_json_and_json_lines_fail_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good_article(folder, 3)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    record = {"title": "Lines survive", "text": "The good line of the file is stored. It is."}
    (folder / "mixed.jsonl").write_text(
        json.dumps(record) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n"
    )
    data = tmp_path / "data"

    output = clean(run(data, "ingest", str(folder)), 0)

    assert "added 2," in output and "failed 2" in output
    assert "nested too deeply" in failures(output)["deep.json"]
    assert "mixed.jsonl:2: JSON nested too deeply" in output
    assert titles(data) == {"Summit number 3 ends", "Lines survive"}


def test_html_nested_ten_thousand_deep_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "in"
    deep = "The envoys agreed on a corridor for grain ships near Odesa on Monday. " * 4
    after = "Officials said inspections of the ships would begin the following week."
    (folder).mkdir()
    (folder / "deep.html").write_text(
        "<html><head><title>Corridor agreed</title></head><body>"
        + "<div>" * 10_000
        + f"<p>{deep}</p>"
        + "</div>" * 10_000
        + f"<p>{after}</p></body></html>"
    )
    # A page without an article, which the extractor gives up on (and logs about).
    (folder / "empty.html").write_text(
        "<html><head><title>Photos</title></head><body><div><img src='a.png'></div></body></html>"
    )
    data = tmp_path / "data"

    with caplog.at_level(logging.WARNING):
        output = clean(run(data, "ingest", str(folder)), 0)

    assert "added 1," in output and "failed 1" in output
    assert failures(output) == {"empty.html": "no article text found in the page"}
    assert "discarding data" not in caplog.text
    hits = json.loads(clean(run(data, "search", "grain corridor inspections", "--json"), 0))
    text = " ".join(hit["text"] for hit in hits)
    assert "corridor for grain ships" in text and "inspections of the ships" in text


def test_binary_and_non_utf8_files_fail_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good_article(folder, 4)
    (folder / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "latin.txt").write_bytes(
        "Caf\xe9 cr\xe8me and na\xefve r\xe9sum\xe9.".encode("cp1252")
    )
    data = tmp_path / "data"

    output = clean(run(data, "ingest", str(folder)), 0)

    reasons = failures(output)
    assert "binary" in reasons["blob.txt"]
    assert "not valid UTF-8" in reasons["latin.txt"]
    assert titles(data) == {"Summit number 4 ends"}


# -- damaged stores ----------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A data folder of 50 articles, each findable by its own words."""
    folder = tmp_path / "library-in"
    for n in range(ARTICLES):
        good_article(folder, n)
    data = tmp_path / "library"
    assert "added 50," in clean(run(data, "ingest", str(folder)), 0)
    return data


def dense_top_titles(data: Path) -> list[str]:
    """The top dense hit of each article's own words, in article order."""
    found = []
    for n in range(ARTICLES):
        query = f"summit{n} accord{n} capital{n} talks{n}"
        hits = json.loads(clean(run(data, "search", query, "--mode", "dense", "--json"), 0))
        found.append(hits[0]["title"] if hits else "")
    return found


EXPECTED = [f"Summit number {n} ends" for n in range(ARTICLES)]


def vectors_match(data: Path) -> None:
    stats = json.loads(clean(run(data, "stats", "--json"), 0))
    assert stats["articles"] == ARTICLES
    assert stats["vectors"] == stats["passages"]
    assert json.loads(clean(run(data, "check", "--json"), 0))["healthy"] is True


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01garbage\xff" * 100, b"[1, 2, 3]\n" + b"x" * 100, b'{"format": 2}\n' + b"x" * 50],
    ids=["binary", "json-list", "json-without-fields"],
)
def test_a_vector_index_with_a_garbage_header_is_rebuilt(
    library: Path, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    (library / INDEX_NAME).write_bytes(garbage)
    with caplog.at_level(logging.WARNING):
        vectors_match(library)
    assert "rebuilding vector index" in caplog.text
    assert dense_top_titles(library) == EXPECTED


def test_a_folder_in_place_of_the_vector_index_is_cleared_and_rebuilt(library: Path) -> None:
    (library / INDEX_NAME).unlink()
    (library / INDEX_NAME).mkdir()
    (library / INDEX_NAME / "keep.txt").write_text("someone's file")

    vectors_match(library)

    assert (library / INDEX_NAME).is_file()
    moved = library / f"{INDEX_NAME}.moved-aside"
    assert (moved / "keep.txt").read_text() == "someone's file"
    assert dense_top_titles(library) == EXPECTED


def test_random_bytes_inside_the_vector_data_are_found_and_repaired(
    library: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = library / INDEX_NAME
    raw = bytearray(path.read_bytes())
    body = raw.index(b"\n") + 1
    rng = random.Random(13)
    start = body + (len(raw) - body) // 3
    raw[start : start + 3000] = rng.randbytes(3000)
    path.write_bytes(bytes(raw))
    assert not json.loads(clean(run(library, "check", "--json"), 1))["vectors"]["ok"]

    with caplog.at_level(logging.WARNING):
        found = dense_top_titles(library)

    assert found == EXPECTED
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "checksum" in warnings[0].getMessage()
    vectors_match(library)


@pytest.mark.parametrize("damage", ["tables", "all-but-the-schema"])
def test_damaged_database_pages_give_one_line(library: Path, damage: str) -> None:
    path = library / DB_NAME
    if damage == "tables":
        damage_tables(path)  # the file opens; its articles and passages cannot be read
    else:
        # Every page but the first: even opening it fails.
        raw = bytearray(path.read_bytes())
        raw[4096:] = random.Random(5).randbytes(len(raw) - 4096)
        path.write_bytes(bytes(raw))

    for command in (["stats"], ["sources"], ["search", "summit"]):
        output = clean(run(library, *command), 1)
        assert output.count("\n") == 1 and "is damaged" in output, command
        assert "geobot check" in output
    report = clean(run(library, "check"), 1)
    assert "DAMAGED" in report and "what to do" in report
    assert json.loads(clean(run(library, "check", "--json"), 1))["database"]["ok"] is False


def test_an_empty_database_file_is_damage_not_an_empty_library(library: Path) -> None:
    path = library / DB_NAME
    path.write_bytes(b"")

    for command in (["sources"], ["stats"], ["search", "summit"], ["ingest", str(path)]):
        output = clean(run(library, *command), 1)
        assert "is damaged (the file is empty (0 bytes))" in output, command
        assert "library is empty" not in output
    assert path.stat().st_size == 0  # nothing was written over it
    checked = json.loads(clean(run(library, "check", "--json"), 1))
    assert checked["database"]["problems"] == ["the file is empty (0 bytes)"]


def test_leftover_temporary_index_files_are_removed(library: Path) -> None:
    leftovers = [library / f"{INDEX_NAME}{tag}.tmp" for tag in ("abc123", "x_9k")]
    for leftover in leftovers:
        leftover.write_bytes(b"half a vector index")
    notes = json.loads(clean(run(library, "check", "--json"), 0))["vectors"]["notes"]
    assert any("leftover temporary file" in note for note in notes)

    vectors_match(library)

    assert not any(leftover.exists() for leftover in leftovers)
    assert dense_top_titles(library) == EXPECTED


# -- hostile text shown in the terminal ------------------------------------------------


def test_article_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    # A title and body carrying an ANSI escape (clears the screen, colours the rest), a
    # carriage return (rewrites the line), a right-to-left override and a bell.
    hostile = "\x1b[2J\x1b[31mSummit\r\u202eends\x07 in Hanoi"
    record = {
        "title": hostile,
        "text": f"{hostile}. Delegates signed the Mekong accord in Hanoi on Tuesday after "
        "three days of talks on water sharing and trade.",
        "outlet": "Wire\x1b[0m",
        "published": "2024-04-12",
    }
    source = tmp_path / "hostile.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    clean(run(data, "ingest", str(source)), 0)

    shown = [
        clean(run(data, "sources"), 0),
        clean(run(data, "search", "Mekong accord Hanoi"), 0),
        clean(run(data, "ask", "What did the delegates sign in Hanoi?"), 0),
        clean(run(data, "remove", "1"), 0),
    ]
    for output in shown:
        assert "Summit" in output or "Mekong" in output, output
        for character in ("\x1b", "\r", "\u202e", "\x07"):
            assert character not in output, (character, output)


# -- hostile model replies through `geobot ask --llm` --------------------------------------


def test_a_written_answer_keeps_only_what_its_source_says(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    source = tmp_path / "pact.md"
    source.write_text(
        "---\ntitle: Japan and the Philippines sign a defence pact\noutlet: Wire One\n"
        "country: jp\npublished: 2024-07-09\nurl: https://news.example/pact\n---\n"
        "Japan and the Philippines signed a defence pact in Manila on Tuesday. The pact "
        "covers visa rules for troops on joint exercises. Officials said it would take "
        "effect next year.\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    clean(run(data, "ingest", str(source)), 0)
    # What a small model writes: one faithful sentence, then a dropped negation, an
    # invented name, a phishing link and a ping, each citing the one passage.
    reply = (
        "Japan and the Philippines signed a defence pact in Manila on Tuesday [1]. "
        "The pact does not cover visa rules for troops [1]. "
        "The pact covers visa rules for troops, according to Vladimir Putin [1]. "
        "Confirm the visa rules at [the ministry](https://evil.example/login) [1]. "
        "@everyone the pact covers visa rules for troops [1]."
    )
    local_http.add("/v1/chat/completions", chat_completion(reply), content_type="application/json")
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1"), "GEOBOT_LLM__ENABLED": "true"}

    answer = json.loads(
        clean(
            CliRunner().invoke(
                cli,
                [
                    "--data-dir",
                    str(data),
                    "ask",
                    "What did Japan sign in Manila?",
                    "--llm",
                    "--json",
                ],
                obj=AppContext(
                    None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)
                ),
                env=env,
            ),
            0,
        )
    )

    assert answer["method"] == "llm" and not answer["declined"]
    assert answer["text"] == (
        "Japan and the Philippines signed a defence pact in Manila on Tuesday. [1]"
    )
    assert sorted(answer["notes"]) == [
        "1 written sentence dropped: holds a link",
        "1 written sentence dropped: holds a mention",
        "1 written sentence dropped: not supported by its sources (a negation)",
        "1 written sentence dropped: not supported by its sources (names)",
    ]
    shown = json.dumps(answer)
    for unchecked in ("evil.example", "@everyone", "Putin", "does not cover"):
        assert unchecked not in shown


def test_damaged_feed_tables_give_one_line(library: Path) -> None:
    allowed = {"GEOBOT_FETCH__ALLOWED_HOSTS": '["127.0.0.1"]'}
    added = CliRunner().invoke(
        cli,
        ["--data-dir", str(library), "feeds", "add", "http://127.0.0.1:9/rss.xml"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
        env=allowed,
    )
    clean(added, 0)
    path = library / DB_NAME
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'feeds'"
        ).fetchone()
    connection.close()
    raw = bytearray(path.read_bytes())
    raw[(root - 1) * page_size : root * page_size] = random.Random(7).randbytes(page_size)
    path.write_bytes(bytes(raw))

    # The articles are intact: only what reads the feeds fails, in one line.
    assert len(titles(library)) == ARTICLES
    for command in (["feeds", "list"], ["feeds", "poll"]):
        output = clean(run(library, *command), 1)
        assert output.count("\n") == 1 and "is damaged" in output, (command, output)
