"""Finding and reading input files that fight back: symbolic links, pipes, documents
nested too deeply, and any library error while reading one file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from index import Config, KnowledgeBase
from index.errors import BadInputError
from index.models import FailedInput
from index.sources.files import find_input_files, parse_file
from index.sources.json_records import parse_json_document, parse_json_lines

ARTICLE = "Headline here\n\nThe ministers met on Monday. They agreed on a plan for trade.\n"


def write(path: Path, content: str = ARTICLE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


# -- symbolic links ----------------------------------------------------------------------


def test_links_out_of_the_folder_are_passed_over_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "root"
    good = write(root / "a.txt")
    outside = write(tmp_path / "private" / "key.txt", "secret")
    (root / "key.txt").symlink_to(outside)
    (root / "private").symlink_to(outside.parent, target_is_directory=True)
    (root / "passwd.txt").symlink_to("/etc/passwd")
    (root / "notes.pdf").symlink_to(outside)  # would not be read anyway: not reported

    found = find_input_files([root])

    assert found.files == (good,)
    assert {f.source for f in found.skipped} == {
        str(root / "key.txt"),
        str(root / "private"),
        str(root / "passwd.txt"),
    }
    reason = next(f.reason for f in found.skipped if f.source.endswith("key.txt"))
    assert reason == f"symbolic link to {outside}, outside the folder being read: not followed"


def test_links_inside_the_folder_are_followed_and_each_file_read_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    article = write(root / "sub" / "b.txt")
    (root / "a_link.txt").symlink_to(article)
    (root / "linked").symlink_to(root / "sub", target_is_directory=True)
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a loop

    found = find_input_files([root])

    assert found.files == (root / "a_link.txt",)
    assert found.skipped == ()


def test_a_link_inside_a_linked_folder_cannot_reach_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "sub" / "a.txt")
    outside = write(tmp_path / "outside.txt")
    (root / "sub" / "out.txt").symlink_to(outside)
    (root / "alias").symlink_to(root / "sub", target_is_directory=True)

    found = find_input_files([root])

    assert found.files == (root / "alias" / "a.txt",)
    assert [f.source for f in found.skipped] == [str(root / "alias" / "out.txt")]


def test_a_link_named_directly_is_read_only_when_allowed(tmp_path: Path) -> None:
    target = write(tmp_path / "real" / "a.txt")
    folder_target = write(tmp_path / "real-folder" / "b.txt").parent
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    folder_link = tmp_path / "folder-link"
    folder_link.symlink_to(folder_target, target_is_directory=True)

    refused = find_input_files([link, folder_link])
    assert refused.files == ()
    assert [f.source for f in refused.skipped] == [str(link), str(folder_link)]
    assert refused.skipped[0].reason == (
        f"is a symbolic link (to {target}): not followed unless links are allowed "
        "(geobot ingest --follow-links)"
    )

    allowed = find_input_files([link, folder_link], follow_links=True)
    assert allowed.files == (link, folder_link / "b.txt")
    assert allowed.skipped == ()


def test_broken_links_and_missing_paths_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root / "a.txt")
    (root / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    missing = tmp_path / "missing"

    found = find_input_files([root, missing])

    reasons = {Path(f.source).name: f.reason for f in found.skipped}
    assert reasons["gone.txt"].startswith("broken symbolic link")
    assert reasons["loop.txt"].startswith("broken symbolic link")
    assert reasons["missing"] == "no such file or folder"


def test_ingest_stores_what_the_folder_holds_and_reports_the_links(
    tmp_path: Path, config: Config
) -> None:
    root = tmp_path / "root"
    write(root / "a.txt")
    (root / "passwd.txt").symlink_to("/etc/passwd")
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        report = kb.ingest([root])
        assert report.added == 1
        assert report.failed == (
            FailedInput(
                str(root / "passwd.txt"),
                "symbolic link to /etc/passwd, outside the folder being read: not followed",
            ),
        )
        assert [a.title for a in kb.list_articles()] == ["Headline here"]


# -- files that are not files -------------------------------------------------------------


def test_a_pipe_is_refused_rather_than_read(tmp_path: Path) -> None:
    pipe = tmp_path / "news.txt"
    os.mkfifo(pipe)
    with pytest.raises(BadInputError) as caught:
        parse_file(pipe)
    assert caught.value.reason == "not a regular file (a pipe, socket or device)"


# -- documents nested too deeply ----------------------------------------------------------


def test_json_nested_too_deeply_is_that_files_failure() -> None:
    with pytest.raises(BadInputError) as caught:
        parse_json_document("[" * 100_000 + "]" * 100_000, "deep.json", 2_000_000)
    assert caught.value.reason == "JSON nested too deeply to read (over a thousand levels)"


def test_a_json_line_nested_too_deeply_is_that_lines_failure() -> None:
    good = json.dumps({"title": "Kept", "text": "This line is an article. It stays."})
    deep = '{"a":' * 50_000
    result = parse_json_lines(f"{good}\n{deep}\n", "feed.jsonl", 2_000_000)
    assert [a.title for a in result.articles] == ["Kept"]
    assert result.failures == (
        FailedInput("feed.jsonl:2", "JSON nested too deeply to read (over a thousand levels)"),
    )


# -- any other failure while reading a file --------------------------------------------------


def test_any_error_while_reading_a_file_is_that_files_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "odd.txt")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("a library's own bug")

    monkeypatch.setattr("index.sources.files.parse_document", broken)
    with caplog.at_level(logging.DEBUG), pytest.raises(BadInputError) as caught:
        parse_file(path)
    assert caught.value.source == str(path)
    assert caught.value.reason == 'cannot read it (KeyError: "a library\'s own bug")'
    assert "Traceback" in caplog.text  # kept for -vv, out of the one-line report


def test_the_files_beside_a_failing_one_are_stored(
    tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    for name in ("a.txt", "b.txt", "c.txt"):
        write(root / name, f"Story {name}\n\nThe story of {name} is told here. It ends well.\n")
    real_parse = parse_file.__globals__["_parse"]

    def fragile(path: Path, *args: object) -> object:
        if path.name == "b.txt":
            raise RecursionError("maximum recursion depth exceeded")
        return real_parse(path, *args)

    monkeypatch.setattr("index.sources.files._parse", fragile)
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        report = kb.ingest([root])
        assert report.added == 2
        assert report.failed == (FailedInput(str(root / "b.txt"), "nested too deeply to read"),)
        assert sorted(a.title for a in kb.list_articles()) == ["Story a.txt", "Story c.txt"]
