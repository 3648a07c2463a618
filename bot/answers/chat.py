"""Conversations: a follow-up question is understood in the context of earlier turns.

"And how did China respond?" names nothing the search can use on its own; after "What did
Biden and Kishida agree on?" it means China's response to that agreement. A follow-up
(it starts with "and", "what about"..., leans on a pronoun, or is very short) is searched
together with the previous questions, and inherits their dates when it names none.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date

from bot.answers.models import Answer
from bot.answers.service import AnswerService
from bot.answers.text import content_terms
from bot.answers.timewindow import TimeWindow

__all__ = ["Conversation", "Turn", "is_follow_up"]

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
    window: TimeWindow | None


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

    def context_for(self, question: str) -> tuple[tuple[str, ...], TimeWindow | None]:
        """The earlier questions and dates that a new `question` should be read with."""
        with self._lock:
            turns = list(self._turns)
        if not turns or not is_follow_up(question):
            return (), None
        recent = turns[-self._memory :]
        return tuple(t.question for t in recent), recent[-1].window

    def ask(self, question: str, **options: object) -> Answer:
        context, window = self.context_for(question)
        answer = self._service.ask(
            question,
            as_of=self._as_of,
            context=context,
            inherited_window=window,
            already_shown=self.shown() if context else frozenset(),
            **options,  # type: ignore[arg-type]
        )
        self.record(question, answer)
        return answer

    def shown(self) -> frozenset[tuple[int, int]]:
        """The sentences (article id, start) this conversation has already quoted."""
        with self._lock:
            return frozenset(
                (c.article_id, c.start) for turn in self._turns for c in turn.answer.citations
            )

    def record(self, question: str, answer: Answer) -> None:
        window = None
        if answer.window is not None and not answer.window.strict:
            window = TimeWindow(
                since=answer.window.since,
                until=answer.window.until,
                expression=answer.window.expression or "",
            )
        with self._lock:
            self._turns.append(Turn(question, answer, window))
            del self._turns[: -max(self._memory * 4, 8)]

    def reset(self) -> None:
        with self._lock:
            self._turns.clear()
