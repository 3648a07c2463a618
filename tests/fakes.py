"""Fake collaborators for fast unit tests: deterministic, dependency-free, honest.

`HashingEmbedder` behaves like a real embedder where the knowledge base can tell: unit
vectors, a token window, token counts and spans that agree with each other. Similar texts
(sharing words) get similar vectors, so searches rank sensibly.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


class HashingEmbedder:
    """Bag of hashed words -> a unit vector. Tokens are words and punctuation marks."""

    def __init__(
        self, dimension: int = 64, max_tokens: int = 64, model_id: str = "fake-hash"
    ) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._model_id = model_id
        self.documents_embedded = 0
        self.queries_embedded = 0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def special_tokens(self) -> int:
        return 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) for t in texts]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self._dimension
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return vector / norm

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.documents_embedded += len(texts)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        return np.vstack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            self.queries_embedded += 1
        return self._vector(text)


class LazyHashingEmbedder(HashingEmbedder):
    """A HashingEmbedder with a model to load, like the real `LazyEmbedder`: its name is
    known up front; anything else "loads the model" first, and `loaded` says whether that
    happened (the knowledge base reads `is_loaded` too)."""

    def __init__(self, dimension: int = 128) -> None:
        super().__init__(dimension=dimension)
        self.loaded = False

    @property
    def is_loaded(self) -> bool:
        return self.loaded

    @property
    def dimension(self) -> int:
        self.loaded = True
        return super().dimension

    @property
    def max_tokens(self) -> int:
        self.loaded = True
        return super().max_tokens

    @property
    def special_tokens(self) -> int:
        self.loaded = True
        return super().special_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self.loaded = True
        return super().count_tokens(texts)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        self.loaded = True
        return super().token_spans(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.loaded = True
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.loaded = True
        return super().embed_query(text)


class ScriptedModel:
    """A fake language model (a `ChatClient`): replies with `reply`, or `reply(messages)`.

    It records every prompt it was sent; `fail` makes it raise instead, as a server that
    cannot be reached does.
    """

    model = "scripted"

    def __init__(
        self,
        reply: str | Callable[[Sequence[dict[str, str]]], str] = "",
        *,
        fail: Exception | None = None,
    ) -> None:
        self.reply = reply
        self.fail = fail
        self.prompts: list[list[dict[str, str]]] = []

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        self.prompts.append(list(messages))
        if self.fail is not None:
            raise self.fail
        return self.reply(messages) if callable(self.reply) else self.reply


class ScriptedStream(ScriptedModel):
    """A `ScriptedModel` that can also stream its reply, `chunk` characters at a time
    (a `StreamingChatClient`). `fail_after` raises `fail` after that many pieces, as a
    server that dies mid-reply; `before_piece(n)` runs before piece n is given (a test
    can hold the stream there)."""

    def __init__(
        self,
        reply: str | Callable[[Sequence[dict[str, str]]], str] = "",
        *,
        chunk: int = 3,
        fail: Exception | None = None,
        fail_after: int | None = None,
        before_piece: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(reply, fail=None if fail_after is not None else fail)
        self.chunk = chunk
        self.fail_after = fail_after
        self.stream_fail = fail
        self.before_piece = before_piece
        self.streamed: list[list[dict[str, str]]] = []

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        self.streamed.append(list(messages))
        text = self.complete(messages)
        pieces = [text[i : i + self.chunk] for i in range(0, len(text), self.chunk)]
        for number, piece in enumerate(pieces):
            if self.fail_after is not None and number >= self.fail_after:
                assert self.stream_fail is not None
                raise self.stream_fail
            if self.before_piece is not None:
                self.before_piece(number)
            yield piece


def sse_events(content: str, *, chunk: int = 3, finish: str | None = "stop") -> list[str]:
    """A chat completion streamed as server-sent events, `chunk` characters an event,
    as llama.cpp's server sends it: a role event, content deltas, a finish, [DONE]."""

    def event(delta: dict[str, str], reason: str | None = None) -> str:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
        }
        return f"data: {json.dumps(body)}\n\n"

    events = [event({"role": "assistant"})]
    events += [event({"content": content[i : i + chunk]}) for i in range(0, len(content), chunk)]
    if finish is not None:
        events.append(event({}, finish))
        events.append("data: [DONE]\n\n")
    return events


# A passage block of the prompt: "<<<BEGIN PASSAGE [n] nonce>>>", heading, text, END line.
_PASSAGE_BLOCK = re.compile(
    r"^<<<BEGIN PASSAGE \[(\d+)\] (\w+)>>>\n(.*?)\n<<<END PASSAGE \[\1\] \2>>>$",
    re.MULTILINE | re.DOTALL,
)


def prompt_passages(messages: Sequence[dict[str, str]]) -> dict[int, str]:
    """The passage blocks of a prompt: {n: "heading\ntext"}, by their number `[n]`."""
    return {int(m[1]): m[3] for m in _PASSAGE_BLOCK.finditer(messages[-1]["content"])}


def passage_number(messages: Sequence[dict[str, str]], phrase: str) -> int:
    """The number `[n]` the prompt gave to the first passage holding `phrase`."""
    for number, block in sorted(prompt_passages(messages).items()):
        if phrase in block:
            return number
    raise AssertionError(f"no passage in the prompt holds {phrase!r}")


def chat_completion(content: object) -> str:
    """The body of an OpenAI chat completions response whose reply is `content`."""
    return json.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    )
