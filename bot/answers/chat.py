"""Conversations: a follow-up question is understood in the context of earlier turns.

"And how did China respond?" names nothing the search can use on its own; after "What did
Biden and Kishida agree on?" it means China's response to that agreement. A follow-up
(it starts with "and", "what about"..., leans on a pronoun, or is very short) is searched
together with the previous questions, and inherits their dates when it names none.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.answers.models import Answer
from bot.answers.service import AnswerService
from bot.answers.text import content_terms
from bot.answers.timewindow import TimeWindow

__all__ = ["Conversation", "Turn", "follow_up_context", "is_follow_up"]

_OPENERS = re.compile(
    r"^\s*(?:and|but|so|also|then|what about|how about|and what|what else|why|how come)\b",
    re.IGNORECASE,
)
_PRONOUNS = re.compile(
    r"\b(?:it|its|they|them|their|theirs|he|him|his|she|her|this|that|these|those|there|"
    r"the same|the other|both|either|neither)\b",
    re.IGNORECASE,
)


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on what was asked before."""
    if _OPENERS.search(question) or _PRONOUNS.search(question):
        return True
    return len(content_terms(question)) <= 1


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer


def follow_up_context(
    question: str, previous: Sequence[Answer], *, memory: int = 2
) -> tuple[tuple[str, ...], TimeWindow | None, frozenset[tuple[int, int]]]:
    """What a follow-up inherits from the earlier answers of its conversation.

    Returns the earlier questions to search with, the preferred dates of the last one
    (unless they were a strict filter), and the sentences (article id, start) already
    quoted, which are not repeated. A question that is not a follow-up inherits nothing.
    """
    if not previous or not is_follow_up(question):
        return (), None, frozenset()
    recent = previous[-memory:]
    last = recent[-1].window
    window = None
    if last is not None and not last.strict:
        window = TimeWindow(since=last.since, until=last.until, expression=last.expression or "")
    shown = frozenset((c.article_id, c.start) for a in previous for c in a.citations)
    return tuple(a.question for a in recent), window, shown


class Conversation:
    """The turns of one conversation (a CLI chat, a Discord thread). Thread-safe."""

    def __init__(
        self, service: AnswerService, *, as_of: date | None = None, memory: int = 2
    ) -> None:
        self._service = service
        self._as_of = as_of
        self._memory = memory
        self._turns: list[Turn] = []
        self._lock = threading.Lock()

    @property
    def turns(self) -> tuple[Turn, ...]:
        with self._lock:
            return tuple(self._turns)

    def context_for(
        self, question: str
    ) -> tuple[tuple[str, ...], TimeWindow | None, frozenset[tuple[int, int]]]:
        """The earlier questions, dates and quoted sentences a new `question` leans on."""
        with self._lock:
            previous = [t.answer for t in self._turns]
        return follow_up_context(question, previous, memory=self._memory)

    def ask(self, question: str, **options: object) -> Answer:
        context, window, shown = self.context_for(question)
        answer = self._service.ask(
            question,
            as_of=self._as_of,
            context=context,
            inherited_window=window,
            already_shown=shown,
            **options,  # type: ignore[arg-type]
        )
        self.record(question, answer)
        return answer

    def record(self, question: str, answer: Answer) -> None:
        with self._lock:
            self._turns.append(Turn(question, answer))
            del self._turns[: -max(self._memory * 4, 8)]

    def reset(self) -> None:
        with self._lock:
            self._turns.clear()
