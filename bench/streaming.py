"""What streaming a written answer costs and gains, with a scripted model.

    .venv/bin/python bench/streaming.py [--sentences 12] [--tokens-per-second 20] [--repeat 5]

On the tests' corpus (fake embedder: retrieval is not what is measured), a scripted model
writes a reply of --sentences cited sentences (a third of them unsupported, as a small
model's are), four characters a piece. Reports:

* the CPU the writer spends checking it whole and streamed (the streamed reader re-reads
  the text so far at each closing marker), median of --repeat runs;
* with the model writing --tokens-per-second pieces a second (simulated, no sleeping),
  when the first checked sentence is shown and when the whole answer is, in seconds of
  the model's writing time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from _common import REPO

sys.path.insert(0, str(REPO / "tests"))

from corpus import CORPUS
from fakes import HashingEmbedder, ScriptedModel, ScriptedStream, passage_number

from bot.answers.llm import LLMWriter
from bot.answers.service import AnswerService
from bot.config import AnswerConfig, LLMConfig
from index import Config, KnowledgeBase

QUESTION = "What did the mediators propose in the ceasefire talks?"
SUPPORTED = "The mediators proposed a six-week truce and a hostage exchange [{n}]."
UNSUPPORTED = "The truce would last 12 weeks [{n}]."
CHUNK = 4


def reply_of(sentences: int) -> Callable[[Sequence[dict[str, str]]], str]:
    def reply(messages: Sequence[dict[str, str]]) -> str:
        n = passage_number(messages, "six-week truce")
        return " ".join(
            (UNSUPPORTED if i % 3 == 1 else SUPPORTED).format(n=n) for i in range(sentences)
        )

    return reply


class Progress:
    """How many pieces the model had written when each checked text was shown."""

    def __init__(self) -> None:
        self.pieces = 0
        self.shown_at: list[int] = []

    def piece(self, number: int) -> None:
        self.pieces = number + 1

    def shown(self, text: str) -> None:
        self.shown_at.append(self.pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--tokens-per-second", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    answers = AnswerConfig(min_confidence=0.3, word_budget=1000)
    llm = LLMConfig(enabled=True)
    with tempfile.TemporaryDirectory() as folder:
        kb = KnowledgeBase.open(Config(data_dir=Path(folder)), HashingEmbedder(dimension=256))
        kb.ingest_articles(CORPUS)
        reply = reply_of(args.sentences)
        whole_ms: list[float] = []
        streamed_ms: list[float] = []
        first_piece: list[int] = []
        pieces_total = 0
        for _ in range(args.repeat):
            model = ScriptedModel(reply)
            service = AnswerService(kb, answers, writer=LLMWriter(model, llm))
            retrieved = service.retrieve(QUESTION)
            started = time.process_time()
            whole = service.answer_from(retrieved)
            whole_ms.append((time.process_time() - started) * 1000)

            progress = Progress()
            stream = ScriptedStream(reply, chunk=CHUNK, before_piece=progress.piece)
            service = AnswerService(kb, answers, writer=LLMWriter(stream, llm))
            started = time.process_time()
            streamed = service.answer_from(retrieved, on_text=progress.shown)
            streamed_ms.append((time.process_time() - started) * 1000)
            assert streamed.text == whole.text, "streamed and whole answers differ"
            first_piece.append(progress.shown_at[0] if progress.shown_at else progress.pieces)
            pieces_total = progress.pieces
        kb.close()
    rate = args.tokens_per_second
    print(f"reply: {args.sentences} sentences, {pieces_total} pieces of {CHUNK} characters")
    print(f"answer CPU, whole reply:    {statistics.median(whole_ms):8.1f} ms (median)")
    print(f"answer CPU, streamed reply: {statistics.median(streamed_ms):8.1f} ms (median)")
    print(
        f"at {rate:g} pieces/s: first checked sentence shown after "
        f"{statistics.median(first_piece) / rate:.1f} s of writing, the whole answer after "
        f"{pieces_total / rate:.1f} s"
    )


if __name__ == "__main__":
    main()
