"""Two processes on one Milvus: the Discord bot (here, on the fake Discord) and a
`geobot ingest` run in a process of its own, both against a Milvus Lite server speaking
Milvus's gRPC protocol (``python -m milvus_lite server``), as a shared deployment runs
Milvus Standalone. The bot answers from articles the other process stored after the bot
had opened the library."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import CORPUS
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder

from bot.answers.service import AnswerService
from bot.config import AnswerConfig, BotConfig, DiscordConfig
from bot.discord import Backend, GeobotClient
from bot.state import BotState
from index import KnowledgeBase
from index.config import MilvusConfig, StorageConfig

fake_discord = fixtures.fake_discord
REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """A Milvus Lite server in a process of its own; its address."""
    port = _free_port()
    log = (tmp_path / "milvus-server.log").open("wb")
    command = ["-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus")]
    server = subprocess.Popen(
        [sys.executable, *command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120  # a bound on a hang, not a speed requirement
        while True:
            assert server.poll() is None, (tmp_path / "milvus-server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Milvus Lite server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


_INGEST = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    from fakes import HashingEmbedder
    from bot.cli import AppContext, cli
    cli.main(
        args=["--config", {config!r}, "ingest", {articles!r}],
        obj=AppContext(None, None, embedder_factory=lambda _: HashingEmbedder(dimension=256)),
        prog_name="geobot",
    )
    """
)


def test_the_bot_answers_from_what_another_process_ingests(
    fake_discord: FakeDiscord, tmp_path: Path, milvus_server: str
) -> None:
    storage = StorageConfig(backend="milvus", milvus=MilvusConfig(uri=milvus_server))
    config = BotConfig(
        data_dir=tmp_path / "bot-data",
        storage=storage,
        discord=DiscordConfig.model_validate(
            {"dev_guild_id": int(fake_discord.guild.id), "cooldown_seconds": 0.0}
        ),
        answers=AnswerConfig(word_budget=100, min_confidence=0.3),
    )
    config_file = tmp_path / "ingest.toml"
    config_file.write_text(
        f'data_dir = "{tmp_path / "cli-data"}"\n\n[storage]\nbackend = "milvus"\n\n'
        f'[storage.milvus]\nuri = "{milvus_server}"\n',
        encoding="utf-8",
    )
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "".join(
            json.dumps(
                {
                    "title": a.title,
                    "text": a.text,
                    "url": a.url,
                    "source": a.outlet,
                    "published": a.published.isoformat() if a.published else None,
                }
            )
            + "\n"
            for a in CORPUS
        ),
        encoding="utf-8",
    )
    script = _INGEST.format(
        repo=str(REPO), tests=str(REPO / "tests"), config=str(config_file), articles=str(articles)
    )

    def make_backend() -> Backend:
        kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
        assert kb.article_count() == 0  # the library is empty when the bot starts
        state = BotState(config.resolved_data_dir() / "bot.sqlite3")
        return Backend(AnswerService(kb, config.answers), state)

    async def main() -> None:
        client = GeobotClient(config, make_backend)
        async with run_client(client, fake_discord):
            ingest = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", script], capture_output=True, timeout=300
            )
            assert ingest.returncode == 0, ingest.stderr.decode()[-2000:]
            assert f"added {len(CORPUS)}" in ingest.stdout.decode()
            handle = await fake_discord.send_command(
                "ask", {"question": "What did the mediators propose in the ceasefire talks?"}
            )
            followup = await handle.next("followup")
            assert "six-week truce" in followup.embeds[0]["description"]
            fields = {f["name"]: f["value"] for e in followup.embeds for f in e.get("fields", [])}
            assert "Ceasefire talks resume in Cairo" in fields["Sources"]

    asyncio.run(asyncio.wait_for(main(), timeout=600))
