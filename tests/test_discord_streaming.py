"""Written answers shown on Discord as they are written: one message, edited at most once
a second (by a fake clock the test owns), only checked sentences ever in it, and the
final edit the answer as it is sent without streaming.

`StreamedAnswer` is tested alone with a scripted `send`, then the real bot, on the real
discord.py client, against the fake Discord with a scripted streaming model.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from fake_discord import fixtures
from fake_discord.client import run_client
from fake_discord.records import Action, wait_until
from fake_discord.server import FakeDiscord
from fakes import HashingEmbedder, ScriptedModel, ScriptedStream
from test_discord_bot import make_backend, make_config
from test_llm_streaming import QUESTION, reply_many_rules

from bot.answers.llm import LLMWriter
from bot.answers.models import Answer, Timings
from bot.answers.service import AnswerService
from bot.config import BotConfig, LLMConfig
from bot.discord import Backend, GeobotClient
from bot.discord.render import render_answer
from bot.discord.streaming import EditTiming, StreamedAnswer, streamed_content
from index import KnowledgeBase

fake_discord = fixtures.fake_discord

# Words of the sentences the model writes that fail their checks: never on Discord.
DROPPED = ("12 weeks", "Generals", "Everyone expects", "evil.example", "met again")


class FakeClock:
    """Time that moves only when a streamed message waits for its turn to be edited."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def timing(self, interval: float = 1.0) -> EditTiming:
        return EditTiming(interval=interval, clock=self.clock, sleep=self.sleep)


# -- StreamedAnswer alone ---------------------------------------------------------------------


def http_error(kind: type[discord.HTTPException], status: int) -> discord.HTTPException:
    return kind(SimpleNamespace(status=status, reason="injected"), "injected")  # type: ignore[arg-type]


@dataclass
class Sent:
    """A message `ScriptedSend` sent: every content it showed and each edit's time."""

    clock: FakeClock
    fail: list[discord.HTTPException] = field(default_factory=list)
    contents: list[str | None] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    async def edit(self, **payload: Any) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.contents.append(payload.get("content"))
        self.payloads.append(payload)
        self.times.append(self.clock.now)


class ScriptedSend:
    """A channel's `send`: records each message, and fails when told to."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.messages: list[Sent] = []
        self.fail_edits: list[discord.HTTPException] = []

    async def __call__(self, **payload: Any) -> Any:
        message = Sent(self.clock, fail=self.fail_edits)
        message.contents.append(payload.get("content"))
        message.payloads.append(payload)
        message.times.append(self.clock.now)
        self.messages.append(message)
        return message


SENTENCES = [
    "The mediators proposed a six-week truce. [1]",
    "Talks stalled in Doha. [2]",
    "Delegations meet again on Friday. [1][2]",
]


def texts(count: int) -> list[str]:
    return [" ".join(SENTENCES[: n + 1]) for n in range(count)]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_each_sentence_is_shown_by_an_edit_at_most_once_a_second() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            for text in texts(3):
                stream.on_text(text)
                await settle()
            await stream.finish(embeds=["final"], view="buttons")

    asyncio.run(main())
    (message,) = send.messages
    assert message.contents == [*texts(3), None]  # then the answer in place of the text
    assert message.payloads[-1]["embeds"] == ["final"]
    assert message.payloads[-1]["view"] == "buttons"
    assert message.times == [0.0, 1.0, 2.0, 3.0]
    assert clock.waits == [1.0, 1.0, 1.0]


def test_texts_that_come_between_two_edits_are_merged() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            for text in texts(3):
                stream.on_text(text)  # all before the loop runs the first edit
            await settle()
            await stream.finish(embeds=["final"])

    asyncio.run(main())
    (message,) = send.messages
    assert message.contents == [texts(3)[-1], None]


def test_texts_from_a_worker_thread_reach_the_message() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            await asyncio.to_thread(stream.on_text, texts(1)[0])
            await settle()
            await stream.finish(embeds=["final"])

    asyncio.run(main())
    assert send.messages[0].contents == [texts(1)[0], None]


def test_a_failed_edit_is_skipped_and_the_final_edit_lands() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)
    send.fail_edits.extend([http_error(discord.HTTPException, 503)])

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            for text in texts(3):
                stream.on_text(text)
                await settle()
            await stream.finish(embeds=["final"])

    asyncio.run(main())
    (message,) = send.messages
    # The second text's edit failed (a 503 discord.py gave up on); the third shows it too.
    assert message.contents == [texts(3)[0], texts(3)[2], None]


def test_a_deleted_message_gets_the_answer_anew() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            stream.on_text(texts(1)[0])
            await settle()
            send.fail_edits.append(http_error(discord.NotFound, 404))
            await stream.finish(embeds=["final"])

    asyncio.run(main())
    first, second = send.messages
    assert first.contents == [texts(1)[0]]
    assert second.payloads == [{"embeds": ["final"]}]


def test_nothing_shown_means_the_answer_is_sent_as_usual() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        async with StreamedAnswer(send, clock.timing()) as stream:
            await stream.finish(embeds=["final"])

    asyncio.run(main())
    (message,) = send.messages
    assert message.payloads == [{"embeds": ["final"]}]


def test_leaving_without_finishing_stops_the_edits() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with StreamedAnswer(send, clock.timing()) as stream:
                stream.on_text(texts(1)[0])
                await settle()
                raise RuntimeError("the answer failed")
        stream.on_text(texts(2)[1])
        await settle()

    asyncio.run(main())
    assert send.messages[0].contents == [texts(1)[0]]


def test_streamed_content_is_whole_escaped_sentences_within_the_limit() -> None:
    text = "Talks *stalled* in @everyone Doha. [1][2] " + " ".join(
        ["A truce was agreed. [1]"] * 200
    )
    content = streamed_content(text)
    assert len(content) <= 2000
    assert content.startswith("Talks \\*stalled\\* in @\u200beveryone Doha. [1][2] A truce")
    assert content.endswith("agreed. [1]")
    assert streamed_content("An unfinished sentence") == ""


# -- the bot, against the fake Discord --------------------------------------------------------


def streaming_config(tmp_path: Path, fake: FakeDiscord) -> BotConfig:
    """Written answers on (the model is the scripted one `streaming_backend` builds)."""
    return make_config(tmp_path, fake).model_copy(update={"llm": LLMConfig(enabled=True)})


def streaming_backend(config: BotConfig, chunk: int = 4) -> Backend:
    backend = make_backend(config)
    model = ScriptedStream(reply_many_rules, chunk=chunk)
    writer = LLMWriter(model, LLMConfig(enabled=True))
    service = AnswerService(backend.kb, config.answers, writer=writer)
    return Backend(service, backend.state)


def unstreamed_answer(config: BotConfig, question: str = QUESTION) -> Answer:
    """The answer to `question` from the same model reply, not streamed."""
    make_backend(config).close()  # the corpus, ingested once
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    try:
        writer = LLMWriter(ScriptedModel(reply_many_rules), LLMConfig(enabled=True))
        return AnswerService(kb, config.answers, writer=writer).ask(question)
    finally:
        kb.close()


_TOOK = re.compile(r"\d+(?:\.\d+)? m?s\b")


def without_timings(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def plain(embed: dict[str, Any]) -> dict[str, Any]:
        footer = embed.get("footer")
        if footer:
            embed = {**embed, "footer": {**footer, "text": _TOOK.sub("", footer["text"])}}
        return embed

    return [plain(e) for e in embeds]


def stamp_actions(
    fake: FakeDiscord, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> dict[int, float]:
    """The fake clock's time when each action reached the fake Discord."""
    stamps: dict[int, float] = {}
    record = fake._record

    def stamped(action: Action) -> Action:
        stamps[id(action)] = clock.now
        return record(action)

    monkeypatch.setattr(fake, "_record", stamped)
    return stamps


def check_stream(
    shown: list[Action], final: Action, expected: Answer, stamps: dict[int, float]
) -> None:
    """The streamed message's contents, its pace and its final edit."""
    sentences = streamed_content(expected.text)
    contents = [a.content or "" for a in shown]
    assert contents, "no sentence was shown before the answer"
    for earlier, later in itertools.pairwise(contents):
        assert later.startswith(earlier) and later != earlier
    for content in contents:
        assert sentences.startswith(content) and content.endswith("]")
        assert not any(words in content for words in DROPPED)
    assert final.message is not None and not final.message.get("content")  # text replaced
    assert final.embeds
    assert without_timings(final.embeds) == without_timings(
        [dict(e.to_dict()) for e in render_answer(replace(expected, timings=Timings()))]
    )
    assert final.components, "the buttons come with the final edit"
    assert final.allowed_mentions == {"parse": []}
    times = [stamps[id(a)] for a in [*shown, final]]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times)), times


def test_ask_shows_checked_sentences_as_they_come_then_the_answer(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = streaming_config(tmp_path, fake_discord)
    expected = unstreamed_answer(config)
    assert expected.method == "llm"
    clock = FakeClock()
    stamps = stamp_actions(fake_discord, clock, monkeypatch)

    async def main() -> None:
        client = GeobotClient(config, lambda: streaming_backend(config), edit_timing=clock.timing())
        async with run_client(client, fake_discord, ready_timeout=30):
            handle = await fake_discord.send_command("ask", {"question": QUESTION})
            assert (await handle.next("callback")).callback_type == 5  # deferred
            first = await handle.next("followup")
            shown = [first]
            while True:
                edit = await handle.next("followup_edit", timeout=40)
                if edit.embeds:
                    break
                shown.append(edit)
            check_stream(shown, edit, expected, stamps)
            await handle.expect_nothing(0.3, "followup", "followup_edit")
            # The bot notes the message once Discord has answered its request, which may
            # be after the test saw the message: wait for the note, not for a time.
            stored = await wait_until(
                lambda: client.backend.state.answer_for_message(int(str(first.message_id))),
                timeout=30,
                what="the answer's message to be noted",
            )
            assert stored.answer.text == expected.text

    asyncio.run(asyncio.wait_for(main(), timeout=90))


def test_mentions_and_thread_follow_ups_are_streamed_too(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = streaming_config(tmp_path, fake_discord)
    expected = unstreamed_answer(config)
    clock = FakeClock()
    stamps = stamp_actions(fake_discord, clock, monkeypatch)

    async def read_stream(handle: Any) -> tuple[list[Action], Action]:
        shown = [await handle.next("message")]
        while True:
            edit = await handle.next("message_edit")
            if edit.embeds:
                return shown, edit
            shown.append(edit)

    async def main() -> None:
        client = GeobotClient(config, lambda: streaming_backend(config), edit_timing=clock.timing())
        async with run_client(client, fake_discord, ready_timeout=30):
            asked = await fake_discord.send_message(QUESTION, mention_bot=True)
            await asked.next("thread_create")
            shown, final = await read_stream(asked)
            # In the thread the question opened (its first sentence opened it).
            assert {a.channel_id for a in [*shown, final]} == {shown[0].channel_id}
            assert shown[0].channel_id != asked.channel_id
            check_stream(shown, final, expected, stamps)
            # A follow-up in the thread: streamed in the thread, with the context.
            again = await fake_discord.send_message(
                "And what about the truce?", channel=shown[0].channel_id, mention_bot=True
            )
            more, last = await read_stream(again)
            assert more and last.embeds and more[0].channel_id == shown[0].channel_id

    asyncio.run(asyncio.wait_for(main(), timeout=90))


def test_edits_pushed_back_by_discord_do_not_lose_the_answer(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = streaming_config(tmp_path, fake_discord)
    clock = FakeClock()

    async def main() -> None:
        client = GeobotClient(config, lambda: streaming_backend(config), edit_timing=clock.timing())
        async with run_client(client, fake_discord, ready_timeout=30):
            # The first edit is rate limited, the next one fails once with a 502: both
            # are retried by discord.py, and the answer's final edit lands.
            fake_discord.fail_next("PATCH", r"^/webhooks/", status=429, retry_after=0.1)
            fake_discord.fail_next("PATCH", r"^/webhooks/", status=502)
            handle = await fake_discord.send_command("ask", {"question": QUESTION})
            await handle.next("followup")
            while not (await handle.next("followup_edit", timeout=20)).embeds:
                pass
            statuses = sorted(r.status for r in fake_discord.requests if r.status >= 400)
            assert statuses == [429, 502]

    asyncio.run(asyncio.wait_for(main(), timeout=120))


def test_a_server_without_a_model_is_not_streamed(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    config = make_config(tmp_path, fake_discord)

    async def main() -> None:
        client = GeobotClient(config, lambda: make_backend(config))
        async with run_client(client, fake_discord, ready_timeout=30):
            handle = await fake_discord.send_command("ask", {"question": QUESTION})
            followup = await handle.next("followup")
            assert followup.embeds and followup.components
            await handle.expect_nothing(0.3, "followup_edit")

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_an_edit_under_way_ends_before_the_final_edit() -> None:
    clock = FakeClock()
    send = ScriptedSend(clock)
    release = asyncio.Event()

    class SlowEdit(Sent):
        async def edit(self, **payload: Any) -> None:
            if payload.get("content") is not None:
                await release.wait()  # the intermediate edit is in flight
            await super().edit(**payload)

    async def slow_send(**payload: Any) -> Any:
        message = SlowEdit(clock)
        message.contents.append(payload.get("content"))
        send.messages.append(message)
        return message

    async def main() -> None:
        async with StreamedAnswer(slow_send, clock.timing()) as stream:
            stream.on_text(texts(1)[0])
            await settle()
            stream.on_text(texts(2)[1])
            await settle()  # its edit has started and waits
            finishing = asyncio.create_task(stream.finish(embeds=["final"]))
            await settle()
            assert not finishing.done()
            release.set()
            await finishing

    asyncio.run(main())
    (message,) = send.messages
    assert message.contents == [texts(2)[0], texts(2)[1], None]


SUMMARY_REPLY = (
    "Negotiators met in Cairo as ceasefire talks resumed [1]. "
    "The truce would last 12 weeks [1]. "
    "The mediators proposed a six-week truce and a hostage exchange [1]. "
    "Delegations meet again on Friday [1]."
)


def test_an_article_summary_is_streamed_too(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = streaming_config(tmp_path, fake_discord)
    make_backend(config).close()
    kb = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    try:
        cairo = next(
            a.id for a in kb.list_articles() if a.title == "Ceasefire talks resume in Cairo"
        )
        writer = LLMWriter(ScriptedModel(SUMMARY_REPLY), LLMConfig(enabled=True))
        expected = AnswerService(kb, config.answers, writer=writer).summarize_article(cairo)
    finally:
        kb.close()
    assert expected.method == "llm" and "12 weeks" not in expected.text
    clock = FakeClock()
    stamps = stamp_actions(fake_discord, clock, monkeypatch)

    def backend() -> Backend:
        made = make_backend(config)
        writer = LLMWriter(ScriptedStream(SUMMARY_REPLY, chunk=5), LLMConfig(enabled=True))
        return Backend(AnswerService(made.kb, config.answers, writer=writer), made.state)

    async def main() -> None:
        client = GeobotClient(config, backend, edit_timing=clock.timing())
        async with run_client(client, fake_discord, ready_timeout=30):
            handle = await fake_discord.send_command("summary", {"article": cairo})
            shown = [await handle.next("followup")]
            while True:
                edit = await handle.next("followup_edit", timeout=20)
                if edit.embeds:
                    break
                shown.append(edit)
            check_stream(shown, edit, expected, stamps)
            assert not any("12 weeks" in (a.content or "") for a in shown)

    asyncio.run(asyncio.wait_for(main(), timeout=90))
