"""Feed state in one PostgreSQL database (`[state] backend = "postgres"`, the tests' real
server) shared by processes with data folders of their own, as on several machines: what
one polls, another lists; a feed one adds, another polls."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from queue import Empty, Queue

from fakes import HashingEmbedder
from local_http import LOCAL_HOSTS, LocalHTTPServer
from test_cli import run
from test_cli_feeds import ENV
from test_polling import feed_text, serve_pages

from bot.config import BotConfig
from bot.feed_state import open_feed_store
from bot.state_db import PostgresStateDatabase
from index import KnowledgeBase
from index.web.feed_store import FeedStore
from index.web.fetch import Fetcher
from index.web.polling import FeedPoller, PollReport

REPO = Path(__file__).resolve().parent.parent


def machine(tmp_path: Path, name: str, state_url: str) -> BotConfig:
    """A process's configuration: a data folder (a library) of its own, the one state."""
    return BotConfig.model_validate(
        {
            "data_dir": str(tmp_path / name),
            "fetch": {
                "timeout_seconds": 2.0,
                "host_interval_seconds": 0.0,
                "allowed_hosts": LOCAL_HOSTS,
            },
            "state": {"backend": "postgres", "url": state_url},
        }
    )


def test_what_one_connection_polls_another_lists_and_a_feed_it_adds_is_due_there(
    tmp_path: Path, local_http: LocalHTTPServer, postgres_url: str
) -> None:
    serve_pages(local_http)
    local_http.add("/rss.xml", feed_text("rss20.xml", local_http), etag='"v1"')
    poller_config = machine(tmp_path, "poller", postgres_url)
    shard_config = machine(tmp_path, "shard", postgres_url)
    embedder = HashingEmbedder(dimension=64)

    with (
        KnowledgeBase.open(poller_config, embedder) as poller_kb,
        KnowledgeBase.open(shard_config, embedder) as shard_kb,
        open_feed_store(poller_config, poller_kb) as polling,
        open_feed_store(shard_config, shard_kb) as listing,
    ):
        assert polling.describe() == listing.describe()
        assert listing.describe().startswith("postgresql://postgres@")
        # The shard adds a feed; the poller, on its own connection, finds it due.
        listing.add(local_http.url("/rss.xml"), outlet="Harbour Wire", country="GB")
        (due,) = polling.due()
        assert due.outlet == "Harbour Wire"

        async def poll() -> PollReport:
            async with Fetcher(poller_config.fetch) as fetcher:
                return await FeedPoller(poller_kb, polling, fetcher, poller_config).poll([due])

        assert asyncio.run(poll()).new == 2
        # The shard lists what the poller did, and nothing is due any more.
        (listed,) = listing.all()
        assert (listed.entries_ingested, listed.etag, listed.last_error) == (2, '"v1"', None)
        assert listed.last_polled_at is not None and listing.due() == []
        assert poller_kb.article_count() == 2 and shard_kb.article_count() == 0
        # Nothing was written to either folder's SQLite feed tables.
        for kb in (poller_kb, shard_kb):
            assert FeedStore(kb.store).all() == []

    # The feed state outlives the processes.
    database = PostgresStateDatabase(postgres_url)
    try:
        assert [f.entries_ingested for f in FeedStore(database).all()] == [2]
    finally:
        database.close()


_FEEDS_RUN = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    from fakes import HashingEmbedder
    from bot.cli import AppContext, cli
    cli.main(
        args=["--data-dir", {data!r}, "feeds", "run"],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=128)),
        prog_name="geobot",
    )
    """
)


class Lines:
    """A process's output lines, read in a thread: a test waits for the next one at
    most `timeout` seconds, so a process that hangs fails the test instead of hanging it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: Queue[str] = Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout

        def read() -> None:
            for line in stdout:
                self._lines.put(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    def next(self, timeout: float = 120) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"no new line in {timeout} s; so far: {self.seen}") from None
        self.seen.append(line)
        return line


def test_geobot_feeds_run_polls_a_feed_another_machine_added_and_stops_on_sigterm(
    tmp_path: Path, local_http: LocalHTTPServer, postgres_url: str
) -> None:
    serve_pages(local_http)
    local_http.add("/rss.xml", feed_text("rss20.xml", local_http))
    url = local_http.url("/rss.xml")
    env = {**ENV, "GEOBOT_STATE__BACKEND": "postgres", "GEOBOT_STATE__URL": postgres_url}
    shard_data = tmp_path / "shard"
    added = run("feeds", "add", url, "--outlet", "Harbour Wire", data_dir=shard_data, env=env)
    assert added.exit_code == 0, added.output

    script = _FEEDS_RUN.format(
        repo=str(REPO), tests=str(REPO / "tests"), data=str(tmp_path / "poller")
    )
    poller = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = Lines(poller)
    try:
        first = lines.next()
        assert first.startswith("polling 1 feed every 30 min"), first
        polled = lines.next()  # the first pass is done
        assert ": polled 1 feed in " in polled and ": 2 new articles; next poll " in polled
        # The shard's machine lists what the poller took, from the shared state.
        listed = json.loads(run("feeds", "list", "--json", data_dir=shard_data, env=env).output)
        assert [(f["url"], f["entries_ingested"]) for f in listed] == [(url, 2)]
        poller.send_signal(signal.SIGTERM)
        assert lines.next() == "stopping: a running ingest finishes first"
        assert lines.next() == "stopped"
        assert poller.wait(timeout=60) == 0, lines.seen
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    # The shard's folder holds no feed state and no articles: both are elsewhere.
    assert "No feeds yet" not in run("feeds", "list", data_dir=shard_data, env=env).output
