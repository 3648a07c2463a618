"""Streamed written answers against a real language model: llama-cpp-python's
OpenAI-compatible server (tests/real_llm.py, the `real_llm` fixture) asked with
`stream: true`, its server-sent events read as they come.

SmolLM2-135M rarely cites in a way that holds up, so the reply is fixed by a grammar the
server applies (llama-cpp-python's `grammar` field): the tokens, their split into events
and the wire format are the real server's, the words are the test's.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from real_llm import LlamaServer
from test_llm_real import ANSWERS, AS_OF, REFERENCE, llm_config, real_kb, unchecked_shown

from bot.answers.llm import LLMWriter, OpenAICompatibleClient
from bot.answers.models import Answer, Timings, answer_to_dict
from bot.answers.service import AnswerService
from index import KnowledgeBase

pytestmark = pytest.mark.llm

__all__ = ["real_kb"]  # the corpus fixture, shared with test_llm_real


# What the model is made to write (by a grammar the server applies): three sentences its
# article supports around one it does not (an invented year), each cited.
FORCED_REPLY = (
    "About a fifth of the world's oil passes through it [1]. "
    "Iran closed the strait in 2019 [1]. "
    "Iran has threatened to close the strait several times [1]. "
    "The strait is a strait between the Persian Gulf and the Gulf of Oman [1]."
)


class ForcedReplyTransport(httpx.BaseTransport):
    """Real HTTP to the server, each request given a GBNF grammar (llama-cpp-python's
    `grammar` field) that lets the model write FORCED_REPLY only: real tokens, streamed
    by the real server, with a reply the test knows. What was asked for and the content
    type of each response are kept; responses pass through as they stream."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self.sent: list[dict[str, Any]] = []
        self.content_types: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.sent.append(payload)
        forced = {**payload, "grammar": "root ::= " + json.dumps(FORCED_REPLY)}
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        response = self._inner.handle_request(
            httpx.Request(request.method, request.url, headers=headers, json=forced)
        )
        self.content_types.append(response.headers.get("content-type", ""))
        return response

    def close(self) -> None:
        self._inner.close()


def test_a_streamed_reply_from_the_real_server_is_the_checked_answer(
    real_kb: KnowledgeBase, real_llm: LlamaServer
) -> None:
    """stream: true against llama-cpp-python's server: its server-sent events (markers
    split across tokens) are read, only checked sentences are shown on the way, each
    text shown is where the final answer starts, and the answer equals the one read
    whole from the same reply."""
    config = llm_config(real_llm, max_tokens=200)
    (article,) = [a for a in real_kb.list_articles() if a.title == REFERENCE.title]

    def summarize(transport: ForcedReplyTransport, on_text: Any = None) -> Answer:
        writer = LLMWriter(OpenAICompatibleClient(config, transport=transport), config)
        service = AnswerService(real_kb, ANSWERS, today=lambda: AS_OF, writer=writer)
        real_llm.forget_last_prompt()
        try:
            return service.summarize_article(article.id, on_text=on_text)
        finally:
            writer.close()

    streamed_wire = ForcedReplyTransport()
    shown: list[str] = []
    answer = summarize(streamed_wire, shown.append)
    assert [s["stream"] for s in streamed_wire.sent] == [True]
    assert streamed_wire.content_types[0].startswith("text/event-stream")
    assert unchecked_shown(answer, real_kb, config.min_support) == [], answer
    assert shown, "no sentence was shown before the reply ended"
    for earlier, later in itertools.pairwise(shown):
        assert later.startswith(earlier) and later != earlier
    assert answer.method == "llm" and answer.text.startswith(shown[-1]), (shown, answer)
    assert not any("2019" in text for text in [*shown, answer.text]), (shown, answer)
    whole_wire = ForcedReplyTransport()
    whole = summarize(whole_wire)
    assert [s["stream"] for s in whole_wire.sent] == [False]
    assert answer_to_dict(replace(answer, timings=Timings())) == answer_to_dict(
        replace(whole, timings=Timings())
    ), (shown, answer.notes, whole.notes)
