"""50 `/ask` interactions at once against the fake Discord, on the dev corpus.

    .venv/bin/python bench/discord_load.py [--concurrent 50] [--probes 20] [--subset Q]

The real bot (the real model through the default int8 ONNX embedder, and a real knowledge
base of the RealTimeQA dev corpus, built on first run by `geobot eval realtimeqa ...
--cache-dir .bench-cache` or by this bench) runs on the real discord.py client against
the local fake Discord of the tests. All interactions are delivered at once. Reports the
share answered, the slowest first response (Discord allows 3 s), p50 and p95 time to the
final answer, and the worst event-loop lag a 10 ms ticker saw while it ran.

While those answers saturate the answer workers, it also clicks a feedback button under
an earlier answer and asks for an autocomplete, every 0.25 s (--probes of each), and
reports the slowest first response of each (target < 1 s): quick interactions must never
queue behind answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import CACHE, DEV_DIR, REPO, percentile, require_dev_dir

sys.path.insert(0, str(REPO / "tests"))

from fake_discord.client import run_client
from fake_discord.server import FakeDiscord

from bot.answers.service import AnswerService
from bot.config import BotConfig, DiscordConfig
from bot.discord import Backend, GeobotClient
from bot.evaluation.realtimeqa import load_dataset, open_corpus
from bot.state import BotState
from index.config import EmbeddingConfig
from index.embedding.factory import load_embedder


async def lag_monitor(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleep 10 ms at a time; any overshoot is time the event loop was busy elsewhere."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - started - 0.01)


async def probe_quick_paths(
    fake: FakeDiscord,
    answer: Any,
    probes: int,
    unanswered: Callable[[], int],
) -> tuple[list[float], list[float], list[int]]:
    """Click "Helpful" under `answer` and ask for an outlet autocomplete, `probes` times
    each, 0.25 s apart; the seconds to each first response, and the /ask still
    unanswered at each probe (the saturation they met)."""
    helpful = next(
        c["custom_id"]
        for row in answer.components
        for c in row["components"]
        if c.get("custom_id", "").endswith(":up")
    )
    clicks: list[float] = []
    completions: list[float] = []
    waiting: list[int] = []
    for _ in range(probes):
        waiting.append(unanswered())
        sent = time.monotonic()
        click = await fake.send_component(answer.message_id, helpful)
        clicks.append((await click.next("callback", timeout=60)).at - sent)
        sent = time.monotonic()
        typed = await fake.send_autocomplete("ask", {"question": "x", "outlet": "Re"}, "outlet")
        completions.append((await typed.next("callback", timeout=60)).at - sent)
        await asyncio.sleep(0.25)
    return clicks, completions, waiting


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def main_async(concurrent: int, data: Path, probes: int, subset: int | None) -> None:
    dataset = load_dataset(require_dev_dir(data))
    if subset is not None:
        # A smaller corpus to embed, for a busy machine: the first questions and their
        # articles, the questions asked again in turn to make up `concurrent`.
        dataset = dataset.subset(subset)
    # The default embedder (int8 ONNX), as `geobot bot` runs it: its own corpus store.
    embedder = load_embedder(EmbeddingConfig(), cache_dir=CACHE / "models")
    kb = open_corpus(dataset, BotConfig(), embedder, CACHE)
    asked = [q.sentence for q in dataset.questions]
    questions = [asked[i % len(asked)] for i in range(concurrent)]
    fake = FakeDiscord().start()
    try:
        config = BotConfig(
            data_dir=CACHE / "discord-load",
            discord=DiscordConfig(
                dev_guild_id=int(fake.guild.id), cooldown_seconds=0, guild_ready_timeout=0.1
            ),
        )

        def backend() -> Backend:
            state = BotState(config.resolved_data_dir() / "bot.sqlite3")
            return Backend(AnswerService(kb, config.answers), state)

        client = GeobotClient(config, backend)
        progress("corpus open; starting the bot")
        async with run_client(client, fake, ready_timeout=30):
            progress("bot ready; asking the first question")
            stop = asyncio.Event()
            worst = [0.0]
            monitor = asyncio.create_task(lag_monitor(stop, worst))
            users = [
                fake.add_member(fake.guild, fake.add_user(f"user{i}")) for i in range(concurrent)
            ]
            # An answer with buttons to click while the rush is on.
            earlier = await fake.send_command("ask", {"question": questions[0]})
            earlier_answer = await earlier.next("followup", timeout=120)
            followups = fake.stream(lambda a: a.kind == "followup")
            progress(f"sending {concurrent} /ask at once")
            started = time.perf_counter()
            handles = await asyncio.gather(
                *(
                    fake.send_command("ask", {"question": q}, user=u)
                    for q, u in zip(questions, users, strict=True)
                )
            )
            sent = time.perf_counter()
            tokens = {h.token for h in handles}
            probing = asyncio.create_task(
                probe_quick_paths(
                    fake,
                    earlier_answer,
                    probes,
                    lambda: concurrent - sum(1 for a in followups.actions if a.token in tokens),
                )
            )

            async def outcome(handle: object) -> tuple[float, float] | None:
                try:
                    callback = await handle.next("callback", timeout=120)  # type: ignore[attr-defined]
                    final = await handle.next("followup", timeout=300)  # type: ignore[attr-defined]
                except TimeoutError:
                    return None
                return callback.at - started, final.at - started

            results = await asyncio.gather(*(outcome(h) for h in handles))
            progress("all /ask done")
            clicks, completions, waiting = await probing
            stop.set()
            await monitor
        answered = [r for r in results if r is not None]
        first = [r[0] for r in answered]
        final = [r[1] for r in answered]
        print(f"{concurrent} /ask interactions delivered in {sent - started:.2f} s")
        print(f"answered: {len(answered)}/{concurrent} ({len(answered) / concurrent:.0%})")
        print(f"slowest first response: {max(first):.3f} s (Discord allows 3 s)")
        print(
            f"time to final answer: p50 {percentile(final, 50):.2f} s, "
            f"p95 {percentile(final, 95):.2f} s, max {max(final):.2f} s"
        )
        print(
            f"meanwhile ({min(waiting)} to {max(waiting)} /ask still unanswered): slowest "
            f"first response of a button click {max(clicks):.3f} s, of an autocomplete "
            f"{max(completions):.3f} s over {probes} each (target < 1 s)"
        )
        print(f"worst event-loop lag: {worst[0] * 1000:.1f} ms")
        print(f"rule breaches recorded by the fake: {len(fake.breaches)}")
        for breach in fake.breaches[:5]:
            print(f"  {breach}")
    finally:
        fake.stop()
        kb.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DEV_DIR)
    parser.add_argument(
        "--probes", type=int, default=20, help="button clicks and autocompletes during the rush"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=None,
        metavar="Q",
        help="only the first Q questions and their articles (a smaller corpus to embed)",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.concurrent, args.data, args.probes, args.subset))


if __name__ == "__main__":
    main()
