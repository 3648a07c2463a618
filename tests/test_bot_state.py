"""The bot's records on both state backends: SQLite (`bot.sqlite3`) and a real PostgreSQL
server (started by the tests, `local_postgres`). Every "process" below is a BotState of
its own, on its own connection to the one database, as shard processes would be."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from bot.answers.models import Answer, Source, Timings
from bot.cli import cli
from bot.config import BotConfig, StateConfig
from bot.server_state import Briefing, ServerSettings
from bot.state import BotState, open_bot_state
from bot.state_db import PostgresStateDatabase, StateDatabase, open_state_database
from index.errors import ConfigError, StoreError

# Discord ids are 64-bit; these do not fit PostgreSQL's INTEGER.
GUILD = 1_234_567_890_123_456_789
USER = 987_654_321_098_765_432
CHANNEL = 1_111_111_111_111_111_111

OpenState = Callable[[], BotState]


def answer(question: str, *, declined: bool = False) -> Answer:
    return Answer(
        question=question,
        text=f"On {question}: the talks resumed [1].",
        citations=(),
        sources=(
            Source(
                number=1,
                article_id=7,
                title="Talks resume",
                outlet="Wire",
                country="GB",
                published=datetime(2024, 4, 15, 9, 0),
                url="https://news.example/talks",
            ),
        ),
        declined=declined,
        window=None,
        timings=Timings(),
    )


@pytest.fixture(params=["sqlite", "postgres"])
def state_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def state_config(state_backend: str, request: pytest.FixtureRequest) -> StateConfig:
    if state_backend == "sqlite":
        return StateConfig()
    url = request.getfixturevalue("postgres_url")
    return StateConfig(backend="postgres", url=url)


@pytest.fixture
def open_state(state_config: StateConfig, tmp_path: Path) -> Iterator[OpenState]:
    """Opens one more "process" on the test's state database."""
    opened: list[BotState] = []

    def open_one() -> BotState:
        state = BotState(open_state_database(state_config, tmp_path / "data"))
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        state.close()


def test_answers_and_feedback_round_trip_across_processes(open_state: OpenState) -> None:
    first, second = open_state(), open_state()
    asked = answer("the ceasefire talks")
    answer_id = first.record_answer(
        asked, user_id=USER, guild_id=GUILD, channel_id=CHANNEL, conversation="thread-1"
    )
    other_id = first.record_answer(answer("elsewhere"), guild_id=42)
    assert other_id > answer_id > 0
    first.attach_message(answer_id, 2_000_000_000_000_000_001, None)

    # The other process finds it by id (a button) and by message (a reply to it).
    stored = second.get_answer(answer_id)
    assert stored is not None and stored.answer == asked
    assert (stored.user_id, stored.conversation) == (USER, "thread-1")
    assert stored.message_id == 2_000_000_000_000_000_001
    by_message = second.answer_for_message(2_000_000_000_000_000_001)
    assert by_message is not None and by_message.id == answer_id
    assert second.get_answer(10_000) is None and second.answer_for_message(5) is None
    assert second.has_conversation("thread-1") and not second.has_conversation("thread-2")
    second.record_answer(answer("a follow-up"), conversation="thread-1")
    assert [a.answer.question for a in first.conversation("thread-1")] == [
        "the ceasefire talks",
        "a follow-up",
    ]
    assert [a.answer.question for a in first.conversation("thread-1", last=1)] == ["a follow-up"]

    # One vote per person and answer, from whichever process; voting again replaces it.
    second.record_feedback(answer_id, USER, True)
    first.record_feedback(answer_id, USER, False)
    first.record_feedback(other_id, 5, True)
    votes = second.feedback(guild_id=GUILD)
    assert [(v.answer_id, v.user_id, v.helpful) for v in votes] == [(answer_id, USER, False)]
    assert votes[0].question == "the ceasefire talks"
    assert votes[0].sources == ["https://news.example/talks"] and not votes[0].declined
    assert {(v.answer_id, v.helpful) for v in first.feedback()} == {
        (answer_id, False),
        (other_id, True),
    }


def test_named_values_are_shared(open_state: OpenState) -> None:
    first, second = open_state(), open_state()
    assert first.get_value("command_sync_hash") is None
    first.set_value("command_sync_hash", "abc")
    second.set_value("command_sync_hash", "def")
    assert first.get_value("command_sync_hash") == "def"


def test_server_settings_persist_and_a_stale_copy_never_undoes_a_change(
    open_state: OpenState,
) -> None:
    first, second = open_state(), open_state()
    assert first.servers.settings(GUILD).cooldown_seconds is None
    first.servers.update_settings(GUILD, cooldown_seconds=30.0, prefer_outlets=("Wire",))
    # `second` loaded its copy before that change; its own change keeps the first one.
    assert second.servers.settings(GUILD).cooldown_seconds is None
    updated = second.servers.update_settings(GUILD, follow_ups="inline")
    assert updated.cooldown_seconds == 30.0 and updated.follow_ups == "inline"
    assert updated.prefer_outlets == ("Wire",)
    reopened = open_state()
    assert reopened.servers.settings(GUILD) == updated
    reopened.servers.save_settings(7, updated)
    assert open_state().servers.settings(7) == updated


def test_settings_changed_at_once_by_two_processes_both_stay(open_state: OpenState) -> None:
    first, second = open_state(), open_state()
    for round_ in range(10):
        guild = GUILD + round_
        if round_ % 2:  # a row stored already, or none yet: two paths to the same end
            first.servers.save_settings(guild, ServerSettings(follow_ups="inline"))
        barrier = threading.Barrier(2)

        def change(state: BotState, barrier: threading.Barrier, **value: object) -> None:
            barrier.wait()
            state.servers.update_settings(guild, **value)  # noqa: B023

        threads = [
            threading.Thread(
                target=change, args=(first, barrier), kwargs={"cooldown_seconds": 5.0}
            ),
            threading.Thread(
                target=change, args=(second, barrier), kwargs={"written_answers": True}
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = open_state().servers.settings(guild)
        assert (stored.cooldown_seconds, stored.written_answers) == (5.0, True)


def test_briefings_and_a_day_claimed_once_by_racing_processes(open_state: OpenState) -> None:
    first, second = open_state(), open_state()
    briefing = Briefing(guild_id=GUILD, channel_id=CHANNEL, at="08:00", timezone="Asia/Tokyo")
    first.servers.set_briefing(briefing)
    assert second.servers.briefing(GUILD) == briefing
    assert second.servers.briefings() == [briefing]

    start = date(2026, 1, 1)
    for offset in range(20):
        day = start + timedelta(days=offset)
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def claim(state: BotState, barrier: threading.Barrier, day: date) -> None:
            barrier.wait()
            results.append(state.servers.claim_day(GUILD, day))  # noqa: B023

        threads = [threading.Thread(target=claim, args=(s, barrier, day)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, True], day
        assert not first.servers.claim_day(GUILD, day)  # and a third try, later
        assert not second.servers.claim_day(GUILD, day - timedelta(days=1))

    last = start + timedelta(days=19)
    assert first.servers.briefing(GUILD).last_day == last  # type: ignore[union-attr]
    # A failed send gives the day back; then exactly one process claims it again.
    second.servers.release_day(GUILD, last, last - timedelta(days=1))
    assert [first.servers.claim_day(GUILD, last), second.servers.claim_day(GUILD, last)] == [
        True,
        False,
    ]
    first.servers.note_quiet(GUILD, True)
    assert second.servers.briefing(GUILD).quiet_noted  # type: ignore[union-attr]
    # Set again (a new time): replaced whole, its claimed day as given.
    moved = Briefing(guild_id=GUILD, channel_id=5, at="09:30", timezone="UTC", topic="energy")
    second.servers.set_briefing(moved)
    assert first.servers.briefing(GUILD) == moved
    assert first.servers.remove_briefing(GUILD) and not second.servers.remove_briefing(GUILD)
    assert second.servers.briefings() == []


def test_the_configured_backend_is_opened(state_config: StateConfig, tmp_path: Path) -> None:
    config = BotConfig(data_dir=tmp_path / "data", state=state_config)
    state = open_bot_state(config)
    try:
        assert state.database.dialect == state_config.backend
        state.set_value("k", "v")
    finally:
        state.close()
    if state_config.backend == "sqlite":
        assert (tmp_path / "data" / "bot.sqlite3").is_file()
    else:
        assert not (tmp_path / "data" / "bot.sqlite3").exists()


def test_feedback_export_reads_the_configured_database(
    state_config: StateConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`geobot feedback` reads the votes another process recorded, where [state] says."""
    data = tmp_path / "data"
    writer = BotState(open_state_database(state_config, data))
    answer_id = writer.record_answer(answer("the grain deal"), guild_id=GUILD)
    writer.record_feedback(answer_id, USER, True)
    writer.close()
    monkeypatch.setenv("GEOBOT_STATE__BACKEND", state_config.backend)
    if state_config.url:
        monkeypatch.setenv("GEOBOT_STATE__URL", state_config.url)
    result = CliRunner().invoke(cli, ["feedback", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    (vote,) = [json.loads(line) for line in result.output.splitlines()]
    assert (vote["answer_id"], vote["user_id"], vote["helpful"]) == (answer_id, USER, True)


# -- PostgreSQL only -------------------------------------------------------------------


def _backend_pid(database: StateDatabase) -> int:
    row = database.execute("SELECT pg_backend_pid()").one()
    assert row is not None
    return int(row[0])


def _wait_until_blocked(url: str, pid: int) -> None:
    """Until backend `pid` waits for a row lock (a state, not a time: bounded only so
    that a broken build fails instead of hanging)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row is not None and row[0] == "Lock":
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for the row lock")


@pytest.mark.parametrize("other_commits", [True, False])
def test_postgres_claim_waits_for_another_process_claim_and_honours_its_outcome(
    postgres_url: str, other_commits: bool
) -> None:
    """Another process has claimed the day but not committed yet: our claim waits for
    its row lock, then sees its outcome: claimed (False for us) or rolled back (ours)."""
    state = BotState(PostgresStateDatabase(postgres_url))
    try:
        state.servers.set_briefing(
            Briefing(guild_id=GUILD, channel_id=1, at="08:00", timezone="UTC")
        )
        day = date(2026, 3, 1)
        with psycopg.connect(postgres_url) as other:  # a transaction, not autocommit
            claimed = other.execute(
                "UPDATE briefings SET last_day = %s WHERE guild_id = %s"
                " AND (last_day IS NULL OR last_day < %s)",
                (day.isoformat(), GUILD, day.isoformat()),
            )
            assert claimed.rowcount == 1
            results: list[bool] = []
            waiting = threading.Thread(
                target=lambda: results.append(state.servers.claim_day(GUILD, day))
            )
            pid = _backend_pid(state.database)
            waiting.start()
            _wait_until_blocked(postgres_url, pid)
            assert not results  # still waiting for the other process
            if other_commits:
                other.commit()
            else:
                other.rollback()
            waiting.join()
        assert results == [not other_commits]
    finally:
        state.close()


def test_postgres_settings_change_waits_for_another_process_change_and_keeps_it(
    postgres_url: str,
) -> None:
    """Another process is rewriting the server's settings row: our change waits for its
    row lock, then starts from what it committed (never from our older copy)."""
    state = BotState(PostgresStateDatabase(postgres_url))
    try:
        state.servers.save_settings(GUILD, ServerSettings(follow_ups="inline"))
        changed = ServerSettings(follow_ups="inline", cooldown_seconds=30.0)
        with psycopg.connect(postgres_url) as other:  # a transaction, not autocommit
            other.execute(
                "SELECT body FROM server_settings WHERE guild_id = %s FOR UPDATE", (GUILD,)
            )
            other.execute(
                "UPDATE server_settings SET body = %s WHERE guild_id = %s",
                (changed.to_json(), GUILD),
            )
            results: list[ServerSettings] = []
            waiting = threading.Thread(
                target=lambda: results.append(
                    state.servers.update_settings(GUILD, written_answers=True)
                )
            )
            pid = _backend_pid(state.database)
            waiting.start()
            _wait_until_blocked(postgres_url, pid)
            other.commit()
            waiting.join()
        assert results == [replace(changed, written_answers=True)]
        assert state.servers.settings(GUILD) == results[0]
    finally:
        state.close()


def test_postgres_errors_are_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = tmp_path / "no-server"
    nowhere.mkdir()
    url = f"postgresql://geobot:url-s3cret@/geobot?host={nowhere}"
    with pytest.raises(StoreError) as raised:
        PostgresStateDatabase(url, password="env-s3cret", connect_timeout_s=2)
    message = str(raised.value)
    assert "cannot connect to the bot's database postgresql://geobot@" in message
    assert "s3cret" not in message and "\n" not in message
    with pytest.raises(StoreError, match="not a PostgreSQL connection URL") as bad:
        PostgresStateDatabase("host=x password=s3cret = =", password=None)
    assert "s3cret" not in str(bad.value)
    # The password comes from the variable `password_env` names; never in a repr.
    monkeypatch.setenv("MY_PG_PASSWORD", "env-s3cret")
    config = StateConfig(backend="postgres", url=url, password_env="MY_PG_PASSWORD")
    assert "s3cret" not in repr(config)
    with pytest.raises(StoreError) as from_env:
        open_state_database(config, tmp_path)
    assert "s3cret" not in str(from_env.value)


def test_postgres_needs_a_url_and_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="needs url"):
        StateConfig(backend="postgres")
    # A GEOBOT_ variable would be read as a setting ([state] password), and refused.
    with pytest.raises(ValueError, match="password_env"):
        StateConfig(password_env="GEOBOT_STATE_PASSWORD")
    from bot.config import BotConfig as Schema
    from index.config import load_config

    shared = load_config(
        environ={
            "GEOBOT_STATE__BACKEND": "postgres",
            "GEOBOT_STATE__URL": "postgresql://geobot@db.example/geobot",
            "PGPASSWORD": "s3cret",
        },
        schema=Schema,
    )
    assert (shared.state.backend, shared.state.url) == (
        "postgres",
        "postgresql://geobot@db.example/geobot",
    )
    monkeypatch.setenv("GEOBOT_STATE__BACKEND", "postgres")

    with pytest.raises(ConfigError, match="needs url"):
        load_config(schema=Schema)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'geobot\[postgres\]'"):
        PostgresStateDatabase("postgresql://geobot@/geobot")


def test_postgres_reconnects_after_losing_its_connection(postgres_url: str) -> None:
    state = BotState(PostgresStateDatabase(postgres_url))
    try:
        state.set_value("before", "1")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (_backend_pid(state.database),))
        # The statement the connection broke under fails in one line; the next reconnects.
        with pytest.raises(StoreError, match="lost the bot's database"):
            state.get_value("before")
        assert state.get_value("before") == "1"
    finally:
        state.close()
