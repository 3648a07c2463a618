"""What the answer service returns: one typed `Answer` for every front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

__all__ = ["Answer", "Citation", "DateWindow", "Source", "Timings"]

AnswerKind = Literal["answer", "article_summary", "topic_summary"]


@dataclass(frozen=True)
class Source:
    """A numbered source: the `[n]` of an answer points here (one article)."""

    number: int
    article_id: int
    title: str
    outlet: str | None
    country: str | None
    published: datetime | None
    url: str | None


@dataclass(frozen=True)
class Citation:
    """One cited sentence: `[number]` in the text, quoting `quote` verbatim.

    `quote` is exactly ``article.text[start:end]`` and lies inside passage `passage_id`;
    `answer_start`/`answer_end` is where the quote stands in the answer text.
    """

    number: int
    article_id: int
    passage_id: int
    start: int
    end: int
    quote: str
    answer_start: int
    answer_end: int


@dataclass(frozen=True)
class DateWindow:
    """The dates the answer was restricted to (strict) or preferred (from the question)."""

    since: date | None
    until: date | None
    description: str
    strict: bool
    expression: str | None = None


@dataclass(frozen=True)
class Timings:
    retrieve_ms: float = 0.0
    answer_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class Answer:
    """An answer (or summary) whose every sentence is cited, or a plain refusal.

    `text` is the prose with inline `[n]` markers; `sources` are the numbered articles;
    `citations` map each quoted sentence to its passage and character span. When
    `declined`, `text` says why and `sources` may list the closest articles found.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    sources: tuple[Source, ...]
    declined: bool
    window: DateWindow | None
    timings: Timings
    kind: AnswerKind = "answer"
    method: str = "extractive"
    search_query: str | None = None
    coverage: tuple[date | None, date | None] | None = None
    confidence: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def prose(self) -> str:
        """The answer text alone, without the list of sources (it has none inline)."""
        return self.text

    @property
    def word_count(self) -> int:
        return len(self.text.split())
