"""The HTTP side of written answers: ``POST {base_url}/chat/completions`` on any server
that speaks OpenAI's chat API (llama.cpp, Ollama, vLLM), whole or streamed.

Whole (:meth:`OpenAICompatibleClient.complete`): one JSON body. Streamed
(:meth:`OpenAICompatibleClient.stream`, ``"stream": true``): server-sent events, each
``data: {...}`` carrying a piece of the reply in ``choices[0].delta.content``, ending
with ``data: [DONE]``; a server that ignores ``stream`` and answers with one JSON body is
read as :meth:`complete` reads it, and its reply comes as one piece.

Both are bounded the same way: the time of the whole reply (not only between reads), the
bytes read, and (by the writer, which stops reading) the characters of the reply. A
stream carries an envelope of about 200 bytes per token, so its byte bound is wider
(:data:`MAX_STREAM_BYTES`) and a single event is bounded too (:data:`MAX_EVENT_BYTES`).
Every failure is one :class:`LLMError` with a one-line message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.config import LLMConfig
from index import GeobotError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_REPLY_BYTES",
    "MAX_STREAM_BYTES",
    "ChatClient",
    "LLMError",
    "OpenAICompatibleClient",
    "StreamingChatClient",
]

# The whole body of a reply that is not streamed; the server's JSON may escape every
# character as \uXXXX.
MAX_REPLY_BYTES = 256 * 1024
# A streamed reply: every event wraps a token or two in ~200 bytes of JSON, so a reply
# of [llm] max_tokens (at most 8,192) takes up to ~2 MB.
MAX_STREAM_BYTES = 4 * 1024 * 1024
# One event (one `data:` line and its fellows): a few hundred bytes in practice.
MAX_EVENT_BYTES = 64 * 1024


class LLMError(GeobotError):
    """The language model server cannot be reached, or its reply is not usable."""


class ChatClient(Protocol):
    """Sends chat messages to a model and returns its reply (tests pass fakes)."""

    @property
    def model(self) -> str: ...

    def complete(self, messages: Sequence[dict[str, str]]) -> str: ...


@runtime_checkable
class StreamingChatClient(Protocol):
    """A chat client that can also give the reply piece by piece as it is written."""

    @property
    def model(self) -> str: ...

    def complete(self, messages: Sequence[dict[str, str]]) -> str: ...

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]: ...


class OpenAICompatibleClient:
    """``POST {base_url}/chat/completions`` on any server that speaks OpenAI's chat API.

    Thread-safe (one pooled httpx client). `transport` lets tests answer in-process.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = config
        headers = {"User-Agent": "geobot (+https://github.com/geobot)"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        # httpx (with its CLI's rich and pygments) costs ~0.1 s to import: paid here, by a
        # process that writes answers, not by every `geobot ask`.
        import httpx

        self._client = httpx.Client(
            timeout=config.timeout_seconds, headers=headers, transport=transport
        )

    @property
    def model(self) -> str:
        return self._config.model

    def _payload(self, messages: Sequence[dict[str, str]], *, stream: bool) -> dict[str, object]:
        return {
            "model": self._config.model,
            "messages": list(messages),
            "temperature": self._config.temperature,
            "max_tokens": self._config.max_tokens,
            "stream": stream,
        }

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The whole reply, in one JSON body. Raises LLMError."""
        deadline = time.monotonic() + self._config.timeout_seconds
        with (
            self._errors_as_llm_errors(),
            self._client.stream(
                "POST", self._url, json=self._payload(messages, stream=False)
            ) as response,
        ):
            body = self._body(response, deadline)
            self._check_status(response.status_code, body)
            return self._content_of(body)

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The reply piece by piece, as the server writes it. Raises LLMError, also in
        the middle of the reply (a server that dies, a reply past its bounds).

        Stop iterating (or close the iterator) to stop reading: the connection closes.
        """
        deadline = time.monotonic() + self._config.timeout_seconds
        with (
            self._errors_as_llm_errors(),
            self._client.stream(
                "POST", self._url, json=self._payload(messages, stream=True)
            ) as response,
        ):
            if "text/event-stream" not in response.headers.get("content-type", ""):
                # Not streamed after all (or an error): one body, read as complete() does.
                body = self._body(response, deadline)
                self._check_status(response.status_code, body)
                yield self._content_of(body)
                return
            self._check_status(response.status_code, b"")
            yield from self._events(response, deadline)

    # -- reading --------------------------------------------------------------------------

    @contextmanager
    def _errors_as_llm_errors(self) -> Iterator[None]:
        """httpx's errors, raised inside, as one-line LLMErrors."""
        import httpx

        try:
            yield
        except httpx.TimeoutException:
            raise LLMError(
                f"{self._url}: no reply within {self._config.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMError(f"{self._url}: {exc or type(exc).__name__}") from None

    def _body(self, response: httpx.Response, deadline: float) -> bytes:
        """The body as it streams in: at most MAX_REPLY_BYTES, and within the timeout as a
        whole, not only between reads, so neither a huge reply nor one dribbled byte by
        byte can hold a worker."""
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_REPLY_BYTES:
                raise LLMError(f"{self._url}: the reply is over {MAX_REPLY_BYTES // 1024} KiB")
            if time.monotonic() > deadline:
                raise _read_timeout(response)
        return bytes(body)

    def _check_status(self, status: int, body: bytes) -> None:
        if status != 200:
            detail = " ".join(body.decode("utf-8", "replace").split())[:200]
            raise LLMError(f"{self._url}: HTTP {status} {detail}".rstrip())

    def _content_of(self, body: bytes) -> str:
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self._url}: the reply is not an OpenAI chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"{self._url}: the model replied with no text")
        return content

    def _events(self, response: httpx.Response, deadline: float) -> Iterator[str]:
        """The content pieces of a server-sent event stream, until ``data: [DONE]``."""
        read = 0
        pending = b""
        data: list[bytes] = []
        text_seen = False
        finished = False  # a choice said why it stopped ("stop", "length")
        for chunk in response.iter_bytes():
            read += len(chunk)
            if read > MAX_STREAM_BYTES:
                raise LLMError(
                    f"{self._url}: the streamed reply is over {MAX_STREAM_BYTES // 2**20} MiB"
                )
            if time.monotonic() > deadline:
                raise _read_timeout(response)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) + sum(len(d) for d in data) > MAX_EVENT_BYTES:
                raise LLMError(
                    f"{self._url}: a streamed event is over {MAX_EVENT_BYTES // 1024} KiB"
                )
            for raw in lines:
                line = raw.rstrip(b"\r")
                if line.startswith(b"data:"):
                    data.append(line[5:].removeprefix(b" "))
                    continue
                if line or not data:
                    continue  # a comment (": ping"), another field, or a blank line alone
                event, data = b"\n".join(data), []
                if event.strip() == b"[DONE]":
                    if not text_seen:
                        raise LLMError(f"{self._url}: the model replied with no text")
                    return
                piece, done = self._delta(event)
                finished = finished or done
                if piece:
                    text_seen = text_seen or bool(piece.strip())
                    yield piece
        if not finished:
            raise LLMError(f"{self._url}: the streamed reply stopped before its end")
        if not text_seen:
            raise LLMError(f"{self._url}: the model replied with no text")

    def _delta(self, event: bytes) -> tuple[str, bool]:
        """The text an event adds, and whether it says the reply is finished."""
        try:
            chunk = json.loads(event)
        except ValueError:
            raise LLMError(f"{self._url}: the stream is not an OpenAI chat completion") from None
        if isinstance(chunk, dict) and "error" in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            detail = " ".join(str(message).split())[:200]
            raise LLMError(f"{self._url}: the server reported an error: {detail}")
        try:
            choices = chunk["choices"]
            if not choices:
                return "", False  # a closing event with the usage only
            choice = choices[0]
            content = (choice.get("delta") or {}).get("content")
            done = choice.get("finish_reason") is not None
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMError(f"{self._url}: the stream is not an OpenAI chat completion") from None
        if content is not None and not isinstance(content, str):
            raise LLMError(f"{self._url}: the stream is not an OpenAI chat completion")
        return content or "", done

    def close(self) -> None:
        self._client.close()


def _read_timeout(response: httpx.Response) -> Exception:
    """The error a reply that takes too long as a whole raises (turned into an LLMError by
    the client's error handling, as httpx's own timeouts are)."""
    import httpx

    return httpx.ReadTimeout("the reply took too long", request=response.request)
