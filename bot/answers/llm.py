"""Written answers and summaries from an OpenAI-compatible server (llama.cpp, Ollama,
vLLM), still cited.

The model gets the passages, numbered, and is asked to answer (or summarise) in a few
sentences that each end with the numbers of the passages they rest on. Passages are
untrusted: each sits in a block fenced by a per-request nonce, neutralised so that no
article can pass for the prompt's structure, and the model is told they are data, not
instructions (:mod:`bot.answers.untrusted`). Nothing it writes is shown unchecked: its
decoration is stripped, and a sentence without a citation, citing a passage it was not
given, holding a link, HTML or a mention, or saying more than its passages do (a figure,
name or date they never mention, a negation they lack or have, too many words they lack;
:mod:`bot.answers.support`) is dropped, and each kept sentence is tied to the passage
sentence that backs it. When the server fails or nothing survives the checks, the
service falls back to the extractive answer and says so. A runaway reply is bounded: the
server's body, the characters read, the sentences considered and the notes kept.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from bot.answers.citations import Quote
from bot.answers.support import best_evidence, check_support, supporting_text
from bot.answers.text import word_count
from bot.answers.untrusted import (
    PassageFence,
    clean_reply,
    markup_problem,
)
from bot.config import LLMConfig
from index import Article, GeobotError, Passage
from index.passages.sentences import split_sentences

log = logging.getLogger(__name__)

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
# Bounds on what one reply can cost. The word budgets (at most 2,000 words) fit well
# inside MAX_REPLY_CHARS; the server's JSON body may escape every character as \uXXXX.
MAX_REPLY_CHARS = 16_000
MAX_REPLY_BYTES = 256 * 1024
MAX_SENTENCES = 40  # written sentences checked; the rest are not read
MAX_NOTES = 5  # notes on dropped sentences, one per reason; past it, one says how many more
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
            status, body = self._post(payload)
        except httpx.TimeoutException:
            raise LLMError(
                f"{self._url}: no reply within {self._config.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMError(f"{self._url}: {exc or type(exc).__name__}") from None
        if status != 200:
            detail = " ".join(body.decode("utf-8", "replace").split())[:200]
            raise LLMError(f"{self._url}: HTTP {status} {detail}".rstrip())
        try:
            content = json.loads(body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self._url}: the reply is not an OpenAI chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LLMError(f"{self._url}: the model replied with no text")
        return content

    def _post(self, payload: dict[str, object]) -> tuple[int, bytes]:
        """The status and body of the POST, read as it streams in: at most
        MAX_REPLY_BYTES, and within the timeout as a whole, not only between reads, so
        neither a huge reply nor one dribbled byte by byte can hold a worker."""
        deadline = time.monotonic() + self._config.timeout_seconds
        with self._client.stream("POST", self._url, json=payload) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    raise LLMError(f"{self._url}: the reply is over {MAX_REPLY_BYTES // 1024} KiB")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the reply took too long", request=response.request)
            return response.status_code, bytes(body)

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
    """Asks the model for cited answers and summaries; keeps only what the passages support.

    `fence` draws the delimiters of each request's passages (a fresh random nonce by
    default; tests may fix it).
    """

    def __init__(
        self,
        client: ChatClient,
        config: LLMConfig,
        *,
        fence: Callable[[], PassageFence] = PassageFence.new,
    ) -> None:
        self.client = client
        self.config = config
        self._fence = fence

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
        *,
        fence: PassageFence | None = None,
    ) -> list[dict[str, str]]:
        fence = fence or self._fence()
        system = (
            "You answer questions about the news using only the numbered passages given. "
            f"Answer in at most {word_budget} words, in a few plain sentences. {_RULES} "
            f"If the passages do not answer the question, reply with exactly: {NOT_FOUND}\n"
            f"{fence.rules()}"
        )
        # The question is the asker's own, but a follow-up's earlier questions may not
        # be, and neither may hold a line break or a token that passes for structure.
        earlier = "".join(f"Earlier question: {fence.neutralize(turn)}\n" for turn in context)
        request = f"{earlier}Question: {fence.neutralize(question)}"
        return _messages(system, passages, request, fence)

    def summary_messages(
        self,
        subject: str,
        passages: Sources,
        sentences: int,
        word_budget: int,
        order: str,
        *,
        fence: PassageFence | None = None,
    ) -> list[dict[str, str]]:
        fence = fence or self._fence()
        system = (
            "You summarise news using only the numbered passages given. Write about "
            f"{sentences} plain sentences, at most {word_budget} words, {order}. {_RULES}\n"
            f"{fence.rules()}"
        )
        return _messages(system, passages, f"Summarise {fence.neutralize(subject)}.", fence)

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
        if clean_reply(reply).strip().strip(".").upper() == NOT_FOUND:
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
        notes: list[str] = []
        if len(reply) > MAX_REPLY_CHARS:
            notes.append(f"the reply was cut at {MAX_REPLY_CHARS:,} characters")
            reply = reply[:MAX_REPLY_CHARS]
        written, uncited = parse_reply(clean_reply(reply))
        if len(written) > MAX_SENTENCES:
            notes.append(f"{len(written) - MAX_SENTENCES} more sentences were not read")
            written = written[:MAX_SENTENCES]
        # Why each dropped sentence was dropped, never its words: they are the model's and
        # failed the checks (an invented name, a link), so they are not shown, notes
        # included. The operator's debug log has them.
        reasons: Counter[str] = Counter()
        for text in uncited:
            reasons["no citation"] += 1
            log.debug("dropped a written sentence (no citation): %r", text)
        kept: list[tuple[str, tuple[Quote, ...]]] = []
        words_used = 0
        for sentence in written:
            problem = self._problem(sentence, passages)
            if problem is None and words_used + word_count(sentence.text) > word_budget:
                problem = f"over the {word_budget}-word budget"
            if problem is not None:
                reasons[problem] += 1
                log.debug("dropped a written sentence (%s): %r", problem, sentence.text)
                continue
            quotes = tuple(_evidence(sentence, *passages[n - 1]) for n in sentence.cited)
            kept.append((sentence.text, quotes))
            words_used += word_count(sentence.text)
        dropped = [
            f"{count} written sentence{'s' if count > 1 else ''} dropped: {reason}"
            for reason, count in reasons.most_common()
        ]
        if len(dropped) > MAX_NOTES:
            more = sum(count for _, count in reasons.most_common()[MAX_NOTES - 1 :])
            dropped = [*dropped[: MAX_NOTES - 1], f"and {more} more sentences dropped"]
        return WrittenAnswer(tuple(kept), tuple(notes + dropped))

    def _problem(self, sentence: WrittenSentence, passages: Sources) -> str | None:
        unknown = [n for n in sentence.cited if not 1 <= n <= len(passages)]
        if unknown:
            return "cites a passage it was not given"
        markup = markup_problem(sentence.text)
        if markup is not None:
            return markup
        cited = [passages[n - 1] for n in sentence.cited]
        support = check_support(
            sentence.text, [supporting_text(article, passage) for article, passage in cited]
        )
        if not support.holds(self.config.min_support):
            log.debug("unsupported: %s", support.describe())
            return f"not supported by its sources ({support.kinds()})"
        return None


def _messages(
    system: str, passages: Sources, request: str, fence: PassageFence
) -> list[dict[str, str]]:
    blocks = []
    for number, (article, passage) in enumerate(passages, start=1):
        day = article.published.date().isoformat() if article.published else None
        outlet = fence.neutralize(article.outlet or "")
        about = ", ".join(part for part in (outlet, day) if part)
        heading = fence.neutralize(article.title) + (f" ({about})" if about else "")
        blocks.append(fence.block(number, heading, passage.text))
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
