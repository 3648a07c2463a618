"""Streamed written answers: each sentence checked as it completes, nothing else shown,
and the finished answer the same as the one read whole.

The writer is tested with a scripted streaming model (tests/fakes.py) in many chunkings;
the HTTP client against the tests' local server speaking server-sent events
(tests/local_http.py ``events``), as llama.cpp, Ollama and vLLM do with ``stream: true``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from corpus import CORPUS
from fakes import HashingEmbedder, ScriptedModel, ScriptedStream, chat_completion, passage_number
from fakes import sse_events as sse
from local_http import LocalHTTPServer
from test_cli import run, write_articles

from bot.answers.citations import verify
from bot.answers.llm import (
    MAX_REPLY_CHARS,
    LLMError,
    LLMWriter,
    OpenAICompatibleClient,
)
from bot.answers.llm_client import MAX_EVENT_BYTES, MAX_STREAM_BYTES
from bot.answers.models import Answer, Timings, answer_from_dict, answer_to_dict
from bot.answers.service import AnswerService
from bot.cli.rendering import render_answer as render_for_terminal
from bot.cli.streaming import WITHDRAWN, StreamedPrinter
from bot.config import AnswerConfig, LLMConfig
from bot.discord.render import render_answer
from index import Config, KnowledgeBase

AS_OF = date(2024, 4, 17)
ANSWERS = AnswerConfig(min_confidence=0.3)
QUESTION = "What did the mediators propose in the ceasefire talks?"
TRUCE = "six-week truce"
PATH = "/v1/chat/completions"
Messages = Sequence[dict[str, str]]


@pytest.fixture
def kb(config: Config) -> Iterator[KnowledgeBase]:
    knowledge_base = KnowledgeBase.open(config, HashingEmbedder(dimension=256))
    knowledge_base.ingest_articles(CORPUS)
    yield knowledge_base
    knowledge_base.close()


def service_with(kb: KnowledgeBase, model: ScriptedModel, **answers: object) -> AnswerService:
    writer = LLMWriter(model, LLMConfig(enabled=True))
    return AnswerService(kb, ANSWERS.model_copy(update=answers), today=lambda: AS_OF, writer=writer)


def same(answer: Answer) -> dict[str, object]:
    """What an answer says, without how long it took."""
    return answer_to_dict(replace(answer, timings=Timings()))


def rendered(answer: Answer) -> list[Any]:
    return [e.to_dict() for e in render_answer(replace(answer, timings=Timings()))]


def streamed(service: AnswerService, question: str = QUESTION) -> tuple[Answer, list[str]]:
    shown: list[str] = []
    answer = service.ask(question, on_text=shown.append)
    return answer, shown


# Replies that exercise every rule: several sources, an unsupported sentence in the middle
# (an invented number, an invented name), no citation, a passage it was not given, a
# marker in mid-sentence, markdown, a link, a word budget, and the model declining.
def reply_many_rules(messages: Messages) -> str:
    cairo = passage_number(messages, TRUCE)
    doha = passage_number(messages, "stalled in Doha")
    return (
        f"Talks stalled in Doha before negotiators met in Cairo [{doha}][{cairo}]. "
        f"The truce would last 12 weeks [{cairo}]. "
        f"**The mediators** proposed a six-week truce [{cairo}], and a hostage exchange [{cairo}]. "
        "Everyone expects peace soon. "
        f"Generals rejected annexation of northern provinces [{cairo}]. "
        f"See https://evil.example/truce for the mediators proposal [{cairo}]. "
        "Mediators met again [42]. "
        f"There the mediators proposed a six-week truce [{cairo}]"
    )


def reply_plain(messages: Messages) -> str:
    n = passage_number(messages, TRUCE)
    return f"The mediators proposed a six-week truce and a hostage exchange [{n}]."


REPLIES: dict[str, Callable[[Messages], str] | str] = {
    "many-rules": reply_many_rules,
    "plain": reply_plain,
    "not-found": "NOT FOUND",
    "nothing-holds": "The talks collapsed in 1999 after a coup [1]. Nobody came [2].",
    "markers-before-stop": lambda m: reply_plain(m).replace("].", "] .").replace(" [", "["),
}


@pytest.mark.parametrize("chunk", [1, 2, 5, 17, 10_000])
@pytest.mark.parametrize("name", list(REPLIES))
def test_a_streamed_answer_equals_the_answer_read_whole(
    kb: KnowledgeBase, name: str, chunk: int
) -> None:
    reply = REPLIES[name]
    whole = service_with(kb, ScriptedModel(reply)).ask(QUESTION)
    model = ScriptedStream(reply, chunk=chunk)
    answer, shown = streamed(service_with(kb, model))
    assert model.streamed, "the reply was not streamed"
    assert same(answer) == same(whole)
    assert rendered(answer) == rendered(whole)
    # What was shown on the way grew sentence by sentence and is where the answer starts.
    for earlier, later in itertools.pairwise(shown):
        assert later.startswith(earlier) and later != earlier
    if shown:
        assert answer.method == "llm" and answer.text.startswith(shown[-1])
    if answer.method == "llm" and answer.text.count("]") > 1:
        # Every sentence but the last was shown as it came (the last one completes with
        # the reply, and comes with the finished answer).
        assert shown and len(shown[-1]) > len(answer.text) // 3


def test_a_sentence_that_fails_its_check_is_never_shown(kb: KnowledgeBase) -> None:
    answer, shown = streamed(service_with(kb, ScriptedStream(reply_many_rules, chunk=2)))
    assert answer.method == "llm"
    assert len(shown) == 2  # the first two sentences that hold, one by one
    for words in ("12 weeks", "Generals", "Everyone expects", "evil.example", "met again"):
        assert not any(words in text for text in shown), words
        assert words not in answer.text and words not in " ".join(answer.notes)
    # The middle sentence that failed sits between two that were shown.
    assert shown[0].startswith("Talks stalled in Doha before negotiators met in Cairo.")
    assert "proposed a six-week truce, and a hostage exchange." in shown[1]
    verify(answer, kb)


def test_a_sentence_is_shown_only_once_a_later_one_has_started(kb: KnowledgeBase) -> None:
    progress: list[tuple[int, int]] = []
    shown: list[str] = []

    def note(piece: int) -> None:
        progress.append((piece, len(shown)))

    model = ScriptedStream(reply_many_rules, chunk=1, before_piece=note)
    service_with(kb, model).ask(QUESTION, on_text=shown.append)
    reply = reply_many_rules(model.streamed[0])
    # The first sentence, with its markers "[n][m]", is complete when the next sentence's
    # first marker closes: not a character earlier.
    next_marker = reply.index("]", reply.index("The truce would last")) + 1
    first_shown = next(piece for piece, count in progress if count == 1)
    assert first_shown == next_marker


def test_a_server_dying_mid_stream_falls_back_to_quotes_and_says_why(kb: KnowledgeBase) -> None:
    died = LLMError("http://127.0.0.1:9/v1/chat/completions: peer closed connection")
    model = ScriptedStream(reply_many_rules, chunk=4, fail=died, fail_after=40)
    answer, shown = streamed(service_with(kb, model))
    assert shown, "a sentence was shown before the server died"
    assert answer.method == "extractive" and TRUCE in answer.text
    assert not answer.text.startswith(shown[-1])
    assert any("the language model is unavailable" in note for note in answer.notes)
    verify(answer, kb)


def test_a_failing_front_end_does_not_lose_the_answer(kb: KnowledgeBase) -> None:
    def broken(text: str) -> None:
        raise RuntimeError("the message could not be edited")

    whole = service_with(kb, ScriptedModel(reply_many_rules)).ask(QUESTION)
    answer = service_with(kb, ScriptedStream(reply_many_rules)).ask(QUESTION, on_text=broken)
    assert same(answer) == same(whole)


def test_a_client_that_cannot_stream_answers_whole(kb: KnowledgeBase) -> None:
    shown: list[str] = []
    answer = service_with(kb, ScriptedModel(reply_plain)).ask(QUESTION, on_text=shown.append)
    assert answer.method == "llm" and shown == []


def test_a_stream_past_the_character_bound_is_cut_and_stops_reading(kb: KnowledgeBase) -> None:
    def endless(messages: Messages) -> str:
        return reply_plain(messages) + " The mediators proposed a truce" * 2_000

    pieces: list[int] = []
    model = ScriptedStream(endless, chunk=100, before_piece=pieces.append)
    whole = service_with(kb, ScriptedModel(endless)).ask(QUESTION)
    answer, shown = streamed(service_with(kb, model))
    assert same(answer) == same(whole)
    assert f"the reply was cut at {MAX_REPLY_CHARS:,} characters" in answer.notes
    assert len(pieces) == MAX_REPLY_CHARS // 100 + 1  # nothing read past the bound
    # No later sentence is cited: the first completes only when the reading stops.
    assert shown == [] and answer.method == "llm"


# -- the client, over real HTTP ---------------------------------------------------------


def client_for(server: LocalHTTPServer, **settings: object) -> OpenAICompatibleClient:
    config = LLMConfig(base_url=server.url("/v1"), model="llama-test", **settings)  # type: ignore[arg-type]
    return OpenAICompatibleClient(config)


def test_the_client_asks_for_a_stream_and_reads_its_events(local_http: LocalHTTPServer) -> None:
    text = "Talks resumed in Cairo [1]. Mediators proposed a truce [2]."
    local_http.events(PATH, sse(text, chunk=2))
    pieces = list(client_for(local_http).stream([{"role": "user", "content": "hi"}]))
    assert "".join(pieces) == text and len(pieces) == -(-len(text) // 2)
    (request,) = local_http.requests
    assert json.loads(request.body)["stream"] is True


def test_events_split_anywhere_on_the_wire_read_the_same(local_http: LocalHTTPServer) -> None:
    text = "Talks resumed in Cairo [1]. Mediators proposed a truce [2]."
    wire = "".join(sse(text, chunk=5)).replace("\n", "\r\n")
    wire = ": keep-alive comment\r\n\r\n" + wire
    local_http.events(PATH, [wire[i : i + 7] for i in range(0, len(wire), 7)])
    assert "".join(client_for(local_http).stream([])) == text


def test_a_server_that_ignores_stream_is_read_whole(local_http: LocalHTTPServer) -> None:
    local_http.add(PATH, chat_completion("Hello [1]."), content_type="application/json")
    assert list(client_for(local_http).stream([])) == ["Hello [1]."]


def test_a_server_dying_mid_stream_is_an_llm_error(local_http: LocalHTTPServer) -> None:
    local_http.events(
        PATH, sse("Talks resumed in Cairo [1]. More text follows here.", chunk=4), die_after=8
    )
    pieces: list[str] = []
    with pytest.raises(LLMError) as caught:
        for piece in client_for(local_http).stream([]):
            pieces.append(piece)
    assert "".join(pieces).startswith("Talks resumed")
    assert str(caught.value).startswith(local_http.url(PATH))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (sse("cut short", finish=None), "stopped before its end"),
        (['data: {"error": {"message": "model\\nnot loaded"}}\n\n'], "reported an error: model"),
        (["data: <html>oops</html>\n\n"], "not an OpenAI chat completion"),
        (['data: {"choices": [{"delta": {"content": 7}}]}\n\n'], "not an OpenAI chat"),
        (sse("   "), "the model replied with no text"),
        (["data: [DONE]\n\n"], "the model replied with no text"),
    ],
)
def test_stream_errors_are_one_clear_line(
    local_http: LocalHTTPServer, events: list[str], message: str
) -> None:
    local_http.events(PATH, events)
    with pytest.raises(LLMError, match=message) as caught:
        list(client_for(local_http).stream([]))
    assert "\n" not in str(caught.value)


def test_an_error_status_on_a_stream_is_one_line(local_http: LocalHTTPServer) -> None:
    local_http.status(PATH, 503, "model not loaded")
    with pytest.raises(LLMError, match="HTTP 503 model not loaded"):
        list(client_for(local_http).stream([]))


def test_an_oversized_stream_is_bounded(local_http: LocalHTTPServer) -> None:
    # Events that carry no text but pad the wire: the byte bound ends them.
    padding = json.dumps({"choices": [{"delta": {}, "finish_reason": None}], "x": "." * 60_000})
    events = [f"data: {padding}\n\n"] * (MAX_STREAM_BYTES // 60_000 + 5)
    local_http.events(PATH, events)
    with pytest.raises(LLMError, match="streamed reply is over 4 MiB"):
        list(client_for(local_http).stream([]))
    # One event that never ends: the event bound ends it, long before the byte bound.
    local_http.events(PATH, ["data: " + "x" * (MAX_EVENT_BYTES + 10)])
    with pytest.raises(LLMError, match="a streamed event is over 64 KiB"):
        list(client_for(local_http).stream([]))


def test_a_dribbled_stream_is_bounded_in_time(local_http: LocalHTTPServer) -> None:
    local_http.dribble(
        PATH,
        "".join(sse("Talks resumed in Cairo [1].", chunk=1)),
        interval_seconds=0.05,
        chunk_size=40,
        content_type="text/event-stream",
    )
    with pytest.raises(LLMError, match=r"no reply within 0\.3 s"):
        list(client_for(local_http, timeout_seconds=0.3).stream([]))


def test_streamed_over_http_equals_the_answer_read_whole(
    kb: KnowledgeBase, local_http: LocalHTTPServer
) -> None:
    # The passage numbers the prompt gives, found once with a scripted model.
    probe = ScriptedModel(reply_many_rules)
    whole = service_with(kb, probe).ask(QUESTION)
    reply = reply_many_rules(probe.prompts[0])
    local_http.events(PATH, sse(reply, chunk=3))
    config = LLMConfig(enabled=True, base_url=local_http.url("/v1"))
    writer = LLMWriter(OpenAICompatibleClient(config), config)
    service = AnswerService(kb, ANSWERS, today=lambda: AS_OF, writer=writer)
    answer, shown = streamed(service)
    assert same(answer) == same(whole) and answer.method == "llm"
    assert len(shown) == 2 and answer.text.startswith(shown[-1])
    # The same server, ignoring stream: true, gives the same answer in one piece.
    local_http.add(PATH, chat_completion(reply), content_type="application/json")
    again, shown_again = streamed(service)
    assert same(again) == same(whole) and shown_again == [shown[-1]]
    # And dying mid-stream: the quoted answer, with the reason.
    local_http.events(PATH, sse(reply, chunk=3), die_after=60)
    fallback, shown_before = streamed(service)
    assert shown_before and fallback.method == "extractive"
    assert any("the language model is unavailable" in n for n in fallback.notes)
    writer.close()


# -- the command line -----------------------------------------------------------------------


def test_the_printer_prints_each_checked_sentence_as_it_comes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printer = StreamedPrinter(width=40)
    printer.on_text("The mediators proposed a six-week truce. [1]")
    assert capsys.readouterr().out == "The mediators proposed a six-week truce.\n[1]"
    printer.on_text("The mediators proposed a six-week truce. [1] Talks stalled. [2]")
    assert capsys.readouterr().out == " Talks stalled. [2]"


def cli_kb(tmp_path: Path) -> Path:
    data = tmp_path / "kb"
    assert run("ingest", str(write_articles(tmp_path / "articles")), data_dir=data).exit_code == 0
    return data


CLI_QUESTION = "What did the mediators propose in Cairo?"
CLI_REPLY = (
    "Mediators proposed a truce as ceasefire talks resumed in Cairo [1]. "
    "Generals rejected annexation of northern provinces [1]. "
    "The mediators proposed a truce [1]."
)


def test_cli_ask_llm_prints_the_streamed_answer_as_the_whole_one(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = cli_kb(tmp_path)
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1")}
    local_http.add(PATH, chat_completion(CLI_REPLY), content_type="application/json")
    as_json = run("ask", CLI_QUESTION, "--llm", "--json", data_dir=data, env=env)
    assert as_json.exit_code == 0, as_json.output
    whole = answer_from_dict(json.loads(as_json.output))  # one JSON object, not streamed
    assert json.loads(local_http.requests[-1].body)["stream"] is False
    assert whole.method == "llm" and "Generals" not in whole.text
    local_http.events(PATH, sse(CLI_REPLY, chunk=3))
    result = run("ask", CLI_QUESTION, "--llm", data_dir=data, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(local_http.requests[-1].body)["stream"] is True
    took = re.compile(r"\d+ ms")
    assert took.sub("", result.output) == took.sub("", render_for_terminal(whole) + "\n")
    assert "Generals" not in result.output


def test_cli_ask_llm_with_the_server_dying_mid_stream_says_so(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = cli_kb(tmp_path)
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1")}
    local_http.events(PATH, sse(CLI_REPLY, chunk=3), die_after=50)
    result = run("ask", CLI_QUESTION, "--llm", data_dir=data, env=env)
    assert result.exit_code == 0 and result.exception is None, result.output
    streamed_part, rest = result.output.split(WITHDRAWN)
    assert streamed_part.startswith("Mediators proposed a truce as ceasefire talks resumed")
    assert "extractive, every sentence quoted" in rest
    assert "note: the language model is unavailable" in rest
    assert "Generals" not in result.output


def test_cli_summarize_llm_is_printed_as_it_is_written(
    tmp_path: Path, local_http: LocalHTTPServer
) -> None:
    data = cli_kb(tmp_path)
    env = {"GEOBOT_LLM__BASE_URL": local_http.url("/v1")}
    reply = (
        "Negotiators met in Cairo as ceasefire talks resumed [1]. "
        "The truce would last 12 weeks [1]. "
        "Delegations meet again on Friday [1]."
    )
    local_http.add(PATH, chat_completion(reply), content_type="application/json")
    as_json = run("summarize", "--article", "1", "--llm", "--json", data_dir=data, env=env)
    whole = answer_from_dict(json.loads(as_json.output))
    assert whole.method == "llm" and "12 weeks" not in whole.text
    local_http.events(PATH, sse(reply, chunk=4))
    result = run("summarize", "--article", "1", "--llm", data_dir=data, env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(local_http.requests[-1].body)["stream"] is True
    took = re.compile(r"\d+ ms")
    assert took.sub("", result.output) == took.sub("", render_for_terminal(whole) + "\n")
