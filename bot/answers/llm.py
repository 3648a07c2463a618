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

import logging
import os
from collections.abc import Callable, Mapping, Sequence

from bot.answers.llm_client import (
    MAX_REPLY_BYTES,
    ChatClient,
    LLMError,
    OpenAICompatibleClient,
    StreamingChatClient,
)
from bot.answers.untrusted import PassageFence
from bot.answers.written_checks import (
    MAX_NOTES,
    MAX_REPLY_CHARS,
    MAX_SENTENCES,
    NOT_FOUND,
    KeptSentence,
    Sources,
    StreamedReply,
    WrittenAnswer,
    WrittenSentence,
    check_reply,
    parse_reply,
)
from bot.config import LLMConfig

log = logging.getLogger(__name__)

__all__ = [
    "MAX_NOTES",
    "MAX_REPLY_BYTES",
    "MAX_REPLY_CHARS",
    "MAX_SENTENCES",
    "NOT_FOUND",
    "ChatClient",
    "LLMError",
    "LLMWriter",
    "OnKept",
    "OpenAICompatibleClient",
    "WrittenAnswer",
    "WrittenSentence",
    "parse_reply",
    "writer_from_config",
]

# Told the sentences kept so far, each time the stream lets one more through.
OnKept = Callable[[tuple[KeptSentence, ...]], None]

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
        on_kept: OnKept | None = None,
    ) -> WrittenAnswer:
        """The model's answer, checked sentence by sentence. Raises LLMError.

        `context` holds the earlier questions of a conversation, so that a follow-up
        ("and how did China respond?") is read as the user meant it. With `on_kept`, the
        reply is streamed (when the client can) and `on_kept` is told the sentences kept
        so far each time one more passes the checks; the answer returned is the same as
        without it.
        """
        messages = self.answer_messages(question, passages, word_budget, context)
        if on_kept is not None and isinstance(self.client, StreamingChatClient):
            return self._streamed(messages, passages, word_budget, on_kept)
        return self._checked(self.client.complete(messages), passages, word_budget)

    def write_summary(
        self,
        subject: str,
        passages: Sources,
        *,
        sentences: int,
        word_budget: int,
        order: str,
        on_kept: OnKept | None = None,
    ) -> WrittenAnswer:
        """A summary of `passages` ("the article ..." or a topic), checked. Raises LLMError.

        `on_kept`: as in `write_answer`."""
        messages = self.summary_messages(subject, passages, sentences, word_budget, order)
        if on_kept is not None and isinstance(self.client, StreamingChatClient):
            return self._streamed(messages, passages, word_budget, on_kept, summary=True)
        return self._checked(self.client.complete(messages), passages, word_budget, summary=True)

    def _checked(
        self, reply: str, passages: Sources, word_budget: int, *, summary: bool = False
    ) -> WrittenAnswer:
        # A summary has no "not found": those words are read (and dropped) as any others.
        return check_reply(
            reply,
            passages,
            word_budget=word_budget,
            min_support=self.config.min_support,
            may_decline=not summary,
        )

    def _streamed(
        self,
        messages: list[dict[str, str]],
        passages: Sources,
        word_budget: int,
        on_kept: OnKept,
        *,
        summary: bool = False,
    ) -> WrittenAnswer:
        """The reply read as it streams in, each sentence checked once complete; raises
        LLMError when the server fails, also after some sentences were let through."""
        assert isinstance(self.client, StreamingChatClient)
        # A summary has no "not found": those words are read (and dropped) as any others.
        reply = StreamedReply(
            passages,
            word_budget=word_budget,
            min_support=self.config.min_support,
            may_decline=not summary,
        )
        pieces = self.client.stream(messages)
        listening = True
        try:
            for piece in pieces:
                if reply.add(piece) and listening:
                    try:
                        on_kept(reply.kept)
                    except Exception:
                        # A front end that cannot show progress still gets the answer.
                        log.exception("showing a streamed sentence failed; not streaming on")
                        listening = False
                if reply.full:
                    break  # past MAX_REPLY_CHARS: the rest is not read
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        written = reply.finish()
        if not reply.finished_as_streamed:
            log.warning("the streamed reply read differently when whole; the whole counts")
        return written


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


def writer_from_config(config: LLMConfig, environ: Mapping[str, str] | None = None) -> LLMWriter:
    """The writer for `config`: an OpenAI-compatible client, its key from the environment."""
    env = os.environ if environ is None else environ
    client = OpenAICompatibleClient(config, api_key=env.get(config.api_key_env) or None)
    return LLMWriter(client, config)
