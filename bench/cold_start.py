"""Cold starts as whole processes: `geobot ask`, `geobot search`, `geobot --help`, and the
Discord bot until its commands are synced against the fake Discord of the tests.

    .venv/bin/python bench/cold_start.py [--runs 5] [--first-start]

Builds the seed store (the one bundled seed article, default embedding backend) in a
temporary data dir whose model cache is `.bench-cache/models` (the verified export is made
there first if missing). Each command then runs `--runs` times as a fresh process: wall time
and peak resident memory (the child's own `ru_maxrss`), median of the runs.
`--first-start` also times one ingest with an empty model cache (the one-time export).
Targets: cold ask <= 1.5 s and <= 300 MiB; bot ready <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import CACHE, REPO

SEED = REPO / "seeds" / "000_f5aa29004a3adc0e.txt"
QUESTION = "What did Biden and Kishida agree on?"

_BOT = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    sys.path[:0] = [{repo!r}, {tests!r}]
    from fake_discord.client import run_client
    from fake_discord.server import FakeDiscord
    from bot.config import BotConfig, DiscordConfig
    from bot.discord.app import build_client
    from bot.discord.runner import backend_factory
    from index.embedding.factory import LazyEmbedder

    async def main():
        fake = FakeDiscord().start()
        try:
            config = BotConfig(
                data_dir=Path({data!r}),
                discord=DiscordConfig(dev_guild_id=int(fake.guild.id), guild_ready_timeout=0.1),
            )
            embedder = lambda: LazyEmbedder(config.embedding, cache_dir=Path({models!r}))
            client = build_client(config, backend_factory(config, embedder))
            async with run_client(client, fake, ready_timeout=60):
                while not fake.guild_commands.get(fake.guild.id):
                    await asyncio.sleep(0.005)
                print(time.time(), flush=True)
        finally:
            fake.stop()

    asyncio.run(main())
    """
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `argv`: (wall seconds, peak RSS MiB, stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed with status {status}")
    return wall, usage.ru_maxrss / 1024, out


def report(name: str, runs: list[tuple[float, float, str]]) -> None:
    walls = [r[0] for r in runs]
    peaks = [r[1] for r in runs]
    print(
        f"{name:<28} wall median {statistics.median(walls):5.2f} s "
        f"(min {min(walls):.2f}, max {max(walls):.2f})  "
        f"peak memory median {statistics.median(peaks):4.0f} MiB  (n={len(runs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--first-start", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    geobot = [sys.executable, "-m", "bot.cli"]
    models = CACHE / "models"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "seed"
        if args.first_start:
            empty = Path(tmp) / "fresh"
            wall, peak, _ = timed([*geobot, "--data-dir", str(empty), "ingest", str(SEED)], env)
            print(f"{'first start (export) ingest':<28} wall {wall:5.2f} s  peak {peak:4.0f} MiB")
        models.mkdir(parents=True, exist_ok=True)
        data.mkdir()
        (data / "models").symlink_to(models.resolve(), target_is_directory=True)
        subprocess.run([*geobot, "--data-dir", str(data), "ingest", str(SEED)], env=env, check=True)
        commands = {
            "geobot --help": [*geobot, "--help"],
            "geobot ask (seed store)": [*geobot, "--data-dir", str(data), "ask", QUESTION],
            "geobot search (seed store)": [
                *geobot,
                "--data-dir",
                str(data),
                "search",
                "alliance upgrade",
            ],
        }
        for name, argv in commands.items():
            report(name, [timed(argv, env) for _ in range(args.runs)])
        bot = _BOT.format(
            repo=str(REPO), tests=str(REPO / "tests"), data=str(data), models=str(models)
        )
        ready = []
        for _ in range(args.runs):
            started = time.time()
            wall, peak, out = timed([sys.executable, "-c", bot], env)
            ready.append((float(out.strip().splitlines()[-1]) - started, peak, ""))
        report("geobot bot: commands synced", ready)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
