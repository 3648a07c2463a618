"""Damaged stores: the SQLite file and the FAISS file, found out and said in one line, the
vector index rebuilt from the stored vectors, and `check_store`'s report."""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder
from test_knowledge_base import article

from index import Config, DamagedStoreError, KnowledgeBase, StoreError
from index.knowledge_base import DB_NAME, INDEX_NAME
from index.storage.faiss_index import VectorIndex
from index.storage.health import check_store
from index.storage.sqlite_files import create_database, store_error
from index.storage.sqlite_store import SQLiteStore


@pytest.fixture
def filled(config: Config, data_dir: Path) -> Path:
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        kb.ingest_articles([article(n) for n in range(1, 21)])
    return data_dir


def dense_ids(config: Config) -> list[list[int]]:
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        return [
            [h.article.id for h in kb.search(f"topic{n} story {n}", mode="dense", k=3)]
            for n in range(1, 21)
        ]


# -- the SQLite file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"just some notes, not a database\n" * 100, "the file is not an SQLite database"),
    ],
)
def test_a_database_file_that_is_no_database_is_damage(
    tmp_path: Path, content: bytes, detail: str
) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(content)
    with pytest.raises(DamagedStoreError) as caught:
        SQLiteStore(path)
    assert caught.value.detail == detail
    assert "geobot check" in str(caught.value)
    assert path.read_bytes() == content  # never written over as a new library


def test_a_new_database_appears_whole(tmp_path: Path) -> None:
    path = tmp_path / "data" / DB_NAME
    path.parent.mkdir()
    seen: list[int] = []

    def prepare(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE t(x)")
        seen.append(int(path.exists()))

    create_database(path, prepare)
    assert seen == [0]  # not there while it was being made
    assert path.stat().st_size > 0
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644 & ~umask  # as SQLite would make it
    assert [p.name for p in path.parent.iterdir()] == [DB_NAME]  # no temporary left
    create_database(path, lambda _c: pytest.fail("an existing database is made again"))


def damage_tables(path: Path, seed: int = 3) -> None:
    """Random bytes over the root page of every table and index but `meta`'s: the file
    opens (its schema and meta are intact), but no article or passage can be read."""
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            int(row[0])
            for row in connection.execute(
                "SELECT rootpage FROM sqlite_master WHERE rootpage > 0"
                " AND name NOT IN ('meta', 'sqlite_autoindex_meta_1')"
            )
        ]
    connection.close()
    raw = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for root in roots:
        start = (root - 1) * page_size
        raw[start : start + page_size] = rng.randbytes(page_size)
    path.write_bytes(bytes(raw))


def test_damaged_pages_are_a_store_error_not_a_database_error(config: Config, filled: Path) -> None:
    damage_tables(filled / DB_NAME)
    store = SQLiteStore(filled / DB_NAME)  # the schema and meta are intact
    try:
        for read in (store.list_articles, store.passage_count, lambda: list(store.iter_vectors())):
            with pytest.raises(DamagedStoreError) as caught:
                read()
            assert caught.value.detail == "database disk image is malformed"
    finally:
        store.close()
    with pytest.raises(DamagedStoreError):
        KnowledgeBase.open(config, HashingEmbedder())


def test_only_the_disks_errors_are_translated(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    assert isinstance(store_error(sqlite3.OperationalError("disk I/O error"), path), StoreError)
    # A broken constraint or a misused API is a bug: it keeps its traceback.
    assert store_error(sqlite3.IntegrityError("UNIQUE constraint failed"), path) is None
    assert store_error(sqlite3.ProgrammingError("closed"), path) is None


# -- the FAISS file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        b"[" * 5000 + b"\n",
        b"123\n",
        b'{"format": 2, "generation": "g"}\n',
        b"no line break at all" * 500,
    ],
    ids=["binary", "deep-json", "not-an-object", "missing-fields", "no-header-line"],
)
def test_a_garbage_header_is_a_store_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / INDEX_NAME
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="cannot read vector index"):
        VectorIndex.load(path)
    assert VectorIndex.read_header(path) is None


def test_bytes_changed_inside_the_vectors_fail_the_checksum(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    index = VectorIndex.build(16, "Flat", np.arange(50, dtype=np.int64), vectors)
    path = tmp_path / INDEX_NAME
    index.save(path, generation="g", model_id="m")
    loaded, header = VectorIndex.load(path)
    assert len(loaded) == 50 and str(header["checksum"]).startswith("sha256:")
    raw = bytearray(path.read_bytes())
    raw[-200] ^= 0x01  # one bit of one vector
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="checksum does not match"):
        VectorIndex.load(path)


def test_saving_where_it_cannot_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    index = VectorIndex(8, "Flat")
    with pytest.raises(StoreError, match="cannot write vector index"):
        index.save(blocker / INDEX_NAME, generation="g", model_id="m")


def test_a_damaged_index_is_rebuilt_with_one_warning(
    config: Config, filled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    expected = dense_ids(config)
    path = filled / INDEX_NAME
    raw = bytearray(path.read_bytes())
    start = raw.index(b"\n") + 100
    raw[start : start + 3000] = random.Random(2).randbytes(3000)
    path.write_bytes(bytes(raw))

    with caplog.at_level(logging.WARNING):
        assert dense_ids(config) == expected
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "rebuilding vector index" in warnings[0] and "checksum" in warnings[0]
    VectorIndex.load(path)  # saved again, sound


def test_a_folder_in_place_of_the_index_is_removed_when_empty(config: Config, filled: Path) -> None:
    expected = dense_ids(config)
    (filled / INDEX_NAME).unlink()
    (filled / INDEX_NAME).mkdir()
    assert dense_ids(config) == expected
    assert (filled / INDEX_NAME).is_file()
    assert not (filled / f"{INDEX_NAME}.moved-aside").exists()


def test_leftover_temporary_files_go_on_the_next_open(config: Config, filled: Path) -> None:
    leftover = filled / f"{INDEX_NAME}k2j4h1.tmp"
    leftover.write_bytes(b"half written")
    with KnowledgeBase.open(config, HashingEmbedder()) as kb:
        assert not leftover.exists()
        assert kb.stats().vectors == kb.stats().passages


# -- check_store -------------------------------------------------------------------------


def check(data_dir: Path) -> tuple[bool, list[str], list[str]]:
    health = check_store(data_dir / DB_NAME, data_dir / INDEX_NAME)
    return health.healthy, list(health.database.problems), list(health.vectors.problems)


def test_check_of_a_sound_store_and_of_no_store(filled: Path, tmp_path: Path) -> None:
    assert check(filled) == (True, [], [])
    health = check_store(filled / DB_NAME, filled / INDEX_NAME)
    assert (health.articles, health.passages) == (20, health.passages)
    assert "checksum verified" in health.vectors.notes[-1]
    empty = tmp_path / "nothing"
    assert check(empty) == (True, [], [])
    assert not empty.exists()  # checking made nothing


def test_check_finds_an_index_out_of_step(config: Config, filled: Path) -> None:
    header, _, body = (filled / INDEX_NAME).read_bytes().partition(b"\n")
    stale = json.loads(header) | {"generation": "someone-else"}
    (filled / INDEX_NAME).write_bytes(json.dumps(stale).encode() + b"\n" + body)
    healthy, database, vectors = check(filled)
    assert not healthy and database == []
    assert vectors == [
        "it is not of the database's current generation (an interrupted write, or "
        "another process writing right now)"
    ]
    (filled / INDEX_NAME).unlink()
    assert check(filled) == (False, [], ["the file is missing"])


def test_check_compares_the_passage_ids(config: Config, filled: Path) -> None:
    store = SQLiteStore(filled / DB_NAME)
    try:
        ids = sorted(store.passage_id_set())
        vectors = dict(zip(*next(store.iter_vectors()), strict=True))
        generation = store.generation
    finally:
        store.close()
    # As many vectors, one of them under a passage id the database does not have.
    shifted = [*ids[:-1], ids[-1] + 1000]
    matrix = np.vstack([vectors[i] for i in ids])
    index = VectorIndex.build(len(matrix[0]), "SQfp16", np.array(shifted), matrix)
    index.save(filled / INDEX_NAME, generation=generation, model_id="fake-hash")
    assert check(filled) == (
        False,
        [],
        ["its passage ids differ from the database's (1 unknown, 1 missing)"],
    )


def test_check_finds_damaged_pages_and_empty_files(filled: Path) -> None:
    path = filled / DB_NAME
    damage_tables(path)
    healthy, database, _ = check(filled)
    assert not healthy and database
    path.write_bytes(b"")
    assert check(filled) == (False, ["the file is empty (0 bytes)"], [])


def test_an_index_file_of_an_older_geobot_is_rebuilt_once(
    config: Config, filled: Path, caplog: pytest.LogCaptureFixture
) -> None:
    header, _, body = (filled / INDEX_NAME).read_bytes().partition(b"\n")
    old = {k: v for k, v in json.loads(header).items() if k != "checksum"} | {"format": 1}
    (filled / INDEX_NAME).write_bytes(json.dumps(old).encode() + b"\n" + body)
    with caplog.at_level(logging.WARNING):
        dense_ids(config)
    assert "written by an older geobot (format 1)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        dense_ids(config)
    assert caplog.text == ""
