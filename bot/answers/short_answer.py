"""The short answer an answer opens with: chosen from the candidates, backed, and shown.

`choose` picks what to show from the voted candidates (:mod:`bot.answers.candidates`):
the best one when it clears the bar, and the runner-up beside it when other outlets back
it with nearly as strong a vote ("Sources differ"). `back` turns a shown candidate into a
:class:`~bot.answers.models.ShortAnswer` whose every backing sentence holds its text and is
numbered as a source of the answer. `headline` writes the line front ends show first:

    Florida — 3 outlets in 2 countries: AP (US) [1], CNN (US) [2], BBC (GB) [4]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.answer_types import ExpectedAnswer
from bot.answers.candidates import Candidate, Mention
from bot.answers.citations import Quote, source_of, states
from bot.answers.models import Answer, Backing, ShortAnswer, Source

__all__ = [
    "MAX_BACKING",
    "ShortAnswerChoice",
    "back",
    "backing_quotes",
    "choose",
    "headline",
]

# At most this many outlets are named on the short answer line.
MAX_BACKING = 5
# A runner-up is shown beside the best when its vote is at least this share of the best's
# and no outlet backs both: two outlets naming two different winners is news in itself.
_DISAGREEMENT_SHARE = 0.6


@dataclass(frozen=True)
class ShortAnswerChoice:
    """What the vote found: every candidate, and the one or two to show."""

    expected: ExpectedAnswer
    candidates: tuple[Candidate, ...]
    shown: tuple[Candidate, ...]

    @property
    def disagree(self) -> bool:
        return len(self.shown) > 1


def choose(
    expected: ExpectedAnswer, candidates: Sequence[Candidate], *, min_score: float
) -> ShortAnswerChoice:
    """The candidates to show: none under `min_score`; the best; and the runner-up too
    when other outlets back it nearly as strongly, for a kind that has one right answer."""
    ranked = tuple(candidates)
    best = ranked[0] if ranked else None
    # A person or an organisation is judged by capitals alone (places, numbers and dates
    # are checked against data), so it needs twice the vote: on the first 219 dev
    # questions, 4 of 16 such answers between one and two times the bar were right, 9 of
    # 10 above it.
    bar = min_score * (2.0 if expected.kind in ("person", "organisation") else 1.0)
    if best is None or best.score < bar or not _backed(best):
        return ShortAnswerChoice(expected, ranked, ())
    if not expected.specific:
        # "Which plan", "which film", "which zodiac animal": any capitalised phrase
        # qualifies, and nothing checks it is a plan, a film or an animal. On the dev set
        # none of the 16 such short answers shown held the answer, even with two outlets
        # behind them: a guess. The quoted sentences answer these questions instead.
        return ShortAnswerChoice(expected, ranked, ())
    shown: tuple[Candidate, ...] = (best,)
    if len(ranked) > 1 and expected.strict:
        rival = ranked[1]
        if (
            rival.score >= _DISAGREEMENT_SHARE * best.score
            and _backed(rival)
            and not set(_citable(best)) & set(_citable(rival))
            and not states(best.text, rival.text)
            and not states(rival.text, best.text)
        ):
            shown = (best, rival)
    return ShortAnswerChoice(expected, ranked, shown)


def _citable(candidate: Candidate) -> dict[str, Mention]:
    """The best sentence of each outlet that states the candidate in its own words."""
    best: dict[str, Mention] = {}
    for mention in candidate.mentions:  # strongest first
        if states(mention.quote.text, candidate.text):
            best.setdefault(mention.outlet, mention)
    return best


def _backed(candidate: Candidate) -> bool:
    return bool(_citable(candidate))


def backing_quotes(candidate: Candidate, count: int) -> list[Quote]:
    """The `count` strongest sentences stating `candidate`, from different outlets."""
    return [m.quote for m in list(_citable(candidate).values())[:count]]


def back(
    candidate: Candidate,
    kind: str,
    sources: Sequence[Source],
    *,
    numbered: bool = True,
) -> tuple[ShortAnswer, tuple[Source, ...]]:
    """`candidate` as a ShortAnswer backed by up to MAX_BACKING outlets, and `sources`
    with any new backing article appended (numbered on). Unnumbered (a candidate listed
    only in `--json`), the sources stay as they are."""
    listed = list(sources)
    number_of = {s.article_id: s.number for s in listed}
    backing: list[Backing] = []
    for outlet, mention in list(_citable(candidate).items())[:MAX_BACKING]:
        article = mention.quote.article
        number: int | None = number_of.get(article.id)
        if number is None and numbered:
            number = len(listed) + 1
            listed.append(source_of(number, article))
            number_of[article.id] = number
        backing.append(
            Backing(
                number=number,
                article_id=article.id,
                passage_id=mention.quote.passage.id,
                start=mention.quote.start,
                end=mention.quote.end,
                quote=mention.quote.text,
                outlet=outlet,
                country=article.country,
                published=article.published,
            )
        )
    return ShortAnswer(candidate.text, kind, round(candidate.score, 4), tuple(backing)), tuple(
        listed
    )


def _label(backing: Backing) -> str:
    country = f" ({backing.country})" if backing.country else ""
    return f"{backing.outlet}{country} [{backing.number}]"


def _dated_label(backing: Backing) -> str:
    day = f", {backing.published:%-d %b %Y}" if backing.published else ""
    return f"{_label(backing)}{day}"


def _support(short: ShortAnswer) -> str:
    outlets = len(short.outlets)
    countries = len(short.countries)
    if outlets == 1:
        return "1 outlet only"
    where = f" in {countries} countries" if countries > 1 else ""
    return f"{outlets} outlets{where}"


def headline(answer: Answer) -> str | None:
    """The line an answer opens with, or None when it has no short answer."""
    shown = answer.short_answers
    if not shown or answer.declined:
        return None
    if len(shown) == 1:
        short = shown[0]
        return f"{short.text} — {_support(short)}: " + ", ".join(_label(b) for b in short.backing)
    sides = (
        f"{short.text} — " + ", ".join(_dated_label(b) for b in short.backing) for short in shown
    )
    return "Sources differ: " + "; ".join(sides)
