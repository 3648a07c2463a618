"""What the answer service returns: one typed `Answer` for every front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.jsonable import to_jsonable

__all__ = [
    "Answer",
    "Citation",
    "DateWindow",
    "Source",
    "Timings",
    "answer_from_dict",
    "answer_to_dict",
]

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
    def word_count(self) -> int:
        return len(self.text.split())

    @property
    def provenance(self) -> tuple[str, str]:
        """How the text was made and how it was checked, as a footer says it."""
        if self.method == "llm":
            return ("written by a language model", "every sentence checked against its sources")
        return (self.method, "every sentence quoted")


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """A JSON-ready dict of `answer` (dates as ISO strings), the form `--json` prints."""
    data: dict[str, Any] = to_jsonable(answer)
    return data


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """The inverse of :func:`answer_to_dict` (for answers kept in the bot's database)."""
    window = data.get("window")
    coverage = data.get("coverage")
    return Answer(
        question=data["question"],
        text=data["text"],
        citations=tuple(Citation(**c) for c in data["citations"]),
        sources=tuple(
            Source(**{**s, "published": _moment(s.get("published"))}) for s in data["sources"]
        ),
        declined=bool(data["declined"]),
        window=DateWindow(
            since=_day(window.get("since")),
            until=_day(window.get("until")),
            description=window["description"],
            strict=bool(window["strict"]),
            expression=window.get("expression"),
        )
        if window
        else None,
        timings=Timings(**data.get("timings", {})),
        kind=data.get("kind", "answer"),
        method=data.get("method", "extractive"),
        search_query=data.get("search_query"),
        coverage=(_day(coverage[0]), _day(coverage[1])) if coverage else None,
        confidence=data.get("confidence"),
        notes=tuple(data.get("notes", ())),
    )
