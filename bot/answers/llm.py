"""Written answers and summaries from an OpenAI-compatible server (llama.cpp, Ollama,
vLLM), still cited.

The model gets the passages, numbered, and is asked to answer (or summarise) in a few
sentences that each end with the numbers of the passages they rest on. Nothing it writes
is shown unchecked: a sentence without a citation, citing a passage it was not given, or
saying more than its passages do (a number they never mention, or too many words they
lack; :mod:`bot.answers.support`) is dropped, and each kept sentence is tied to the
passage sentence that backs it. When the server fails or nothing survives the checks,
the service falls back to the extractive answer and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from bot.answers.citations import Quote
from bot.answers.support import best_evidence, check_support, supporting_text
from bot.answers.text import word_count
from bot.config import LLMConfig
from index import Article, GeobotError, Passage
from index.passages.sentences import split_sentences

__all__ = [
    "ChatClient",
    "LLMError",
    "LLMWriter",
    "OpenAICompatibleClient",
    "WrittenAnswer",
    "WrittenSentence",
    "writer_from_config",
]

NOT_FOUND = "NOT FOUND"
# A run of citation markers: "[1]", "[1][3]", "[1, 3]", " [2] [4]".
_MARKER_RUN = r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+"
_MARKERS = re.compile(_MARKER_RUN)
_NUMBERS = re.compile(r"\d+")
# A marker put before the full stop ("... agreed [1].") is moved after it.
_MARKER_BEFORE_STOP = re.compile(rf"({_MARKER_RUN})\s*([.!?])(?=\s|$)")


class LLMError(GeobotError):
    """The language model server cannot be reached, or its reply is not usable."""


class ChatClient(Protocol):
    """Sends chat messages to a model and returns its reply (tests pass fakes)."""

    @property
    def model(self) -> str: ...

    def complete(self, messages: Sequence[dict[str, str]]) -> str: ...


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
        self._client = httpx.Client(
            timeout=config.timeout_seconds, headers=headers, transport=transport
        )

    @property
    def model(self) -> str:
        return self._config.model

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        payload = {
            "model": self._config.model,
            "messages": list(messages),
            "temperature": self._config.temperature,
            "max_tokens": self._config.max_tokens,
            "stream": False,
        }
        try:
            response = self._client.post(self._url, json=payload)
        except httpx.TimeoutException:
            raise LLMError(
                f"{self._url}: no reply within {self._config.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMError(f"{self._url}: {exc or type(exc).__name__}") from None
        if response.status_code != 200:
            detail = " ".join(response.text.split())[:200]
            raise LLMError(f"{self._url}: HTTP {response.status_code} {detail}".rstrip())
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self._url}: the reply is not an OpenAI chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"{self._url}: the model replied with no text")
        return content

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class WrittenSentence:
    """A sentence the model wrote and the passages (positions in the prompt) it cites."""

    text: str
    cited: tuple[int, ...]  # 1-based passage numbers, as in the prompt


@dataclass(frozen=True)
class WrittenAnswer:
    """The checked result: sentences kept with their evidence quotes, and what was dropped."""

    sentences: tuple[tuple[str, tuple[Quote, ...]], ...]
    dropped: tuple[str, ...]
    not_found: bool = False


def _continues(sentences: Sequence[WrittenSentence], segment: str) -> bool:
    """Whether text after a marker carries on the sentence before it ("said [1], and")."""
    head = segment.lstrip()[:1]
    return (
        bool(sentences)
        and not sentences[-1].text.endswith((".", "!", "?"))
        and bool(head)
        and (head in ",;:)" or head.islower())
    )


def _join(sentence: str, continuation: str) -> str:
    return sentence + ("" if continuation[0] in ",;:)" else " ") + continuation


def parse_reply(reply: str) -> tuple[list[WrittenSentence], list[str]]:
    """The cited sentences of `reply`, and the text of sentences that cite nothing.

    Markers normally close a sentence; a marker in mid-sentence ("Biden said [1], and
    Kishida agreed [2].") cites the sentence it stands in, which then carries both.
    """
    text = _MARKER_BEFORE_STOP.sub(r"\2\1", reply.strip())
    sentences: list[WrittenSentence] = []
    uncited: list[str] = []
    position = 0
    for match in _MARKERS.finditer(text):
        segment = text[position : match.start()]
        position = match.end()
        cited = tuple(dict.fromkeys(int(n) for n in _NUMBERS.findall(match.group())))
        pieces = [segment[s.start : s.end] for s in split_sentences(segment)]
        if not pieces:
            continue  # a second run of markers, as in "[1] [2]" split by a line break
        if _continues(sentences, segment):
            previous = sentences.pop()
            joined = _join(previous.text, pieces[0])
            if len(pieces) == 1:
                cited = tuple(dict.fromkeys(previous.cited + cited))
                pieces = [joined]
            else:
                sentences.append(WrittenSentence(joined, previous.cited))
                pieces = pieces[1:]
        # Only the last sentence before the markers is the one they belong to.
        uncited.extend(pieces[:-1])
        sentences.append(WrittenSentence(" ".join(pieces[-1].split()), cited))
    tail = text[position:]
    if _continues(sentences, tail):
        # "... agreed [1], officials said." — the rest of a cited sentence.
        first, *rest = [tail[s.start : s.end] for s in split_sentences(tail)]
        previous = sentences.pop()
        sentences.append(WrittenSentence(_join(previous.text, first), previous.cited))
        tail = " ".join(rest)
    uncited.extend(
        tail[s.start : s.end]
        for s in split_sentences(tail)
        if any(ch.isalnum() for ch in tail[s.start : s.end])
    )
    return sentences, uncited


# The passages a model writes from: each with its article, numbered [1], [2]... in order.
Sources = Sequence[tuple[Article, Passage]]

_RULES = (
    "End every sentence with the numbers of the passages it relies on, like [2] or "
    "[1][3]. State only what those passages say; do not add facts, names, numbers or "
    "dates from elsewhere."
)


class LLMWriter:
    """Asks the model for cited answers and summaries; keeps only what the passages support."""

    def __init__(self, client: ChatClient, config: LLMConfig) -> None:
        self.client = client
        self.config = config

    @property
    def model(self) -> str:
        return self.client.model

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def answer_messages(
        self,
        question: str,
        passages: Sources,
        word_budget: int,
        context: Sequence[str] = (),
    ) -> list[dict[str, str]]:
        system = (
            "You answer questions about the news using only the numbered passages given. "
            f"Answer in at most {word_budget} words, in a few plain sentences. {_RULES} "
            f"If the passages do not answer the question, reply with exactly: {NOT_FOUND}"
        )
        earlier = "".join(f"Earlier question: {turn}\n" for turn in context)
        return _messages(system, passages, f"{earlier}Question: {question}")

    def summary_messages(
        self, subject: str, passages: Sources, sentences: int, word_budget: int, order: str
    ) -> list[dict[str, str]]:
        system = (
            "You summarise news using only the numbered passages given. Write about "
            f"{sentences} plain sentences, at most {word_budget} words, {order}. {_RULES}"
        )
        return _messages(system, passages, f"Summarise {subject}.")

    def write_answer(
        self,
        question: str,
        passages: Sources,
        *,
        word_budget: int,
        context: Sequence[str] = (),
    ) -> WrittenAnswer:
        """The model's answer, checked sentence by sentence. Raises LLMError.

        `context` holds the earlier questions of a conversation, so that a follow-up
        ("and how did China respond?") is read as the user meant it.
        """
        reply = self.client.complete(self.answer_messages(question, passages, word_budget, context))
        if reply.strip().strip(".").upper() == NOT_FOUND:
            return WrittenAnswer((), (), not_found=True)
        return self._checked(reply, passages, word_budget)

    def write_summary(
        self,
        subject: str,
        passages: Sources,
        *,
        sentences: int,
        word_budget: int,
        order: str,
    ) -> WrittenAnswer:
        """A summary of `passages` ("the article ..." or a topic), checked. Raises LLMError."""
        reply = self.client.complete(
            self.summary_messages(subject, passages, sentences, word_budget, order)
        )
        return self._checked(reply, passages, word_budget)

    def _checked(self, reply: str, passages: Sources, word_budget: int) -> WrittenAnswer:
        written, uncited = parse_reply(reply)
        dropped = [f"no citation: {text!r}" for text in uncited]
        kept: list[tuple[str, tuple[Quote, ...]]] = []
        words_used = 0
        for sentence in written:
            problem = self._problem(sentence, passages)
            if problem is None and words_used + word_count(sentence.text) > word_budget:
                problem = f"over the {word_budget}-word budget"
            if problem is not None:
                dropped.append(f"{problem}: {sentence.text!r}")
                continue
            quotes = tuple(_evidence(sentence, *passages[n - 1]) for n in sentence.cited)
            kept.append((sentence.text, quotes))
            words_used += word_count(sentence.text)
        return WrittenAnswer(tuple(kept), tuple(dropped))

    def _problem(self, sentence: WrittenSentence, passages: Sources) -> str | None:
        unknown = [n for n in sentence.cited if not 1 <= n <= len(passages)]
        if unknown:
            return f"cites [{unknown[0]}], not one of the {len(passages)} passages given"
        cited = [passages[n - 1] for n in sentence.cited]
        support = check_support(
            sentence.text,
            [supporting_text(article.title, passage.text) for article, passage in cited],
        )
        if not support.holds(self.config.min_support):
            return f"not supported by its sources ({support.describe()})"
        return None


def _messages(system: str, passages: Sources, request: str) -> list[dict[str, str]]:
    blocks = []
    for number, (article, passage) in enumerate(passages, start=1):
        day = article.published.date().isoformat() if article.published else None
        about = ", ".join(part for part in (article.outlet, day) if part)
        heading = f"[{number}] {article.title}" + (f" ({about})" if about else "")
        blocks.append(f"{heading}\n{passage.text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\n{request}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _evidence(sentence: WrittenSentence, article: Article, passage: Passage) -> Quote:
    span = best_evidence(sentence.text, article.text, passage.sentences)
    return Quote(article, passage, span.start, span.end)


def writer_from_config(config: LLMConfig, environ: Mapping[str, str] | None = None) -> LLMWriter:
    """The writer for `config`: an OpenAI-compatible client, its key from the environment."""
    env = os.environ if environ is None else environ
    client = OpenAICompatibleClient(config, api_key=env.get(config.api_key_env) or None)
    return LLMWriter(client, config)
