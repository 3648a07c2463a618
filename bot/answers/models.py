"""What the answer service returns: one typed `Answer` for every front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.jsonable import to_jsonable

__all__ = [
    "Answer",
    "Backing",
    "Citation",
    "Corroboration",
    "DateWindow",
    "Evidence",
    "ShortAnswer",
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
class Backing:
    """One source backing a short answer: the sentence of it that holds the answer.

    `number` is the source's `[n]` in the answer (None for a candidate that is not shown,
    listed only in `--json`); `quote` is exactly ``article.text[start:end]``, inside
    passage `passage_id`, and holds the short answer's text.
    """

    number: int | None
    article_id: int
    passage_id: int
    start: int
    end: int
    quote: str
    outlet: str
    country: str | None
    published: datetime | None


@dataclass(frozen=True)
class ShortAnswer:
    """The answer in a few words ("Florida"), with every source that states it.

    `kind` is what the question asked for ("state", "number", "person"...); `outlets` are
    the distinct outlets backing it (one entry per outlet, however many of its articles),
    `countries` their countries where known; `score` is its share of the vote.
    """

    text: str
    kind: str
    score: float
    backing: tuple[Backing, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.outlet for b in self.backing))

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.country for b in self.backing if b.country))


@dataclass(frozen=True)
class Evidence:
    """What the decision to answer rests on (shown in `--json`, so a reader can see why):

    - `vote`: the best candidate short answer's vote (every outlet stating it, each
      weighed by how well its sentence matches, its rank and its date), as 1 - e^-vote;
    - `margin`: its share of the votes of the best two (1: no rival);
    - `outlets`: how many distinct outlets state it;
    - `match`: how much of the question the best sentence covers, averaged with the
      closest passage's similarity to the question;
    - `kind_asked`: whether the question asks for a kind of thing (a place, a person, a
      number, a date...) rather than an explanation or any name;
    - `kind_found`: whether a short answer of that kind was found.

    The short-answer features (`vote`, `margin`, `outlets`) are 0 without a short answer.
    """

    vote: float
    margin: float
    outlets: int
    match: float
    kind_asked: bool
    kind_found: bool


@dataclass(frozen=True)
class Corroboration:
    """The other outlets that say what one quoted sentence says.

    The sentence is the citation of source `number` quoting ``start:end`` of its article;
    `outlet` is its own outlet; `others` are the other outlets' sentences that support it,
    each numbered as a source (none: only `outlet` reports it).
    """

    number: int
    start: int
    end: int
    outlet: str
    others: tuple[Backing, ...]


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
    # The answer in a few words, first; a second one when sources differ (each backed by
    # other outlets); and every candidate weighed, for `--json`.
    short_answers: tuple[ShortAnswer, ...] = ()
    candidates: tuple[ShortAnswer, ...] = ()
    # For a topic summary: which other outlets report each quoted claim.
    corroboration: tuple[Corroboration, ...] = ()
    evidence: Evidence | None = None

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
    for key, shorts in (("short_answers", answer.short_answers), ("candidates", answer.candidates)):
        for entry, short in zip(data[key], shorts, strict=True):
            entry["outlets"] = list(short.outlets)
            entry["countries"] = list(short.countries)
    return data


def _backing(data: dict[str, Any]) -> Backing:
    return Backing(**{**data, "published": _moment(data.get("published"))})


def _short_answer(data: dict[str, Any]) -> ShortAnswer:
    return ShortAnswer(
        text=data["text"],
        kind=data["kind"],
        score=float(data["score"]),
        backing=tuple(_backing(b) for b in data["backing"]),
    )


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
        short_answers=tuple(_short_answer(s) for s in data.get("short_answers", ())),
        candidates=tuple(_short_answer(s) for s in data.get("candidates", ())),
        evidence=Evidence(**data["evidence"]) if data.get("evidence") else None,
        corroboration=tuple(
            Corroboration(**{**c, "others": tuple(_backing(b) for b in c["others"])})
            for c in data.get("corroboration", ())
        ),
    )
