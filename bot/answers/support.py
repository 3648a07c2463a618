"""Does a written sentence say only what its cited passages say?

A written (LLM) sentence is not a quote, so it cannot be checked character for character.
The check is lexical and deliberately strict:

* most of the sentence's content words must occur in the passages it cites;
* every figure, name and date in it must occur there too (:mod:`bot.answers.claims`), so
  a number, a person or a day the passages never mention is caught however long the
  sentence is;
* it must not add a negation they lack, nor drop one they have ("does not cover" for
  "covers", "agreed" for "failed to agree").

What citing a passage vouches for is the passage with its article's title, outlet and
publication date, all of which the model was shown. The sentence's evidence is the one
sentence of a cited passage that shares the most of its content words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.claims import (
    dates_in,
    figure_is_backed,
    figures_backed,
    figures_in,
    name_keys,
    names_in,
    negation_problem,
)
from bot.answers.text import content_terms, stem, stems
from index.models import Article, Passage, Span

__all__ = ["Support", "best_evidence", "check_support", "supporting_text"]

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()


@dataclass(frozen=True)
class Support:
    """How well the cited passages back a sentence."""

    share: float  # share of the sentence's content words found in the passages
    missing_terms: tuple[str, ...]
    missing_numbers: tuple[str, ...]
    missing_names: tuple[str, ...] = ()
    missing_dates: tuple[str, ...] = ()
    negation: str | None = None  # how it adds or drops a negation, if it does

    def holds(self, min_share: float) -> bool:
        return (
            not self.missing_numbers
            and not self.missing_names
            and not self.missing_dates
            and self.negation is None
            and self.share >= min_share
        )

    def kinds(self) -> str:
        """What is missing or changed, named by kind only ("names, a negation"): the
        sentence's own words are the model's and unchecked, so a note never repeats them."""
        parts = [
            kind
            for kind, present in (
                ("numbers", self.missing_numbers),
                ("names", self.missing_names),
                ("dates", self.missing_dates),
                ("a negation", self.negation),
            )
            if present
        ]
        return ", ".join(parts) or "too few of its words"

    def describe(self) -> str:
        """What is missing or changed, with the words themselves (for logs and tests)."""
        parts = []
        if self.missing_numbers:
            parts.append("numbers not in its sources: " + ", ".join(self.missing_numbers))
        if self.missing_names:
            parts.append("names not in its sources: " + ", ".join(self.missing_names[:4]))
        if self.missing_dates:
            parts.append("dates not in its sources: " + ", ".join(self.missing_dates))
        if self.negation:
            parts.append(self.negation)
        if self.missing_terms:
            parts.append("words not in its sources: " + ", ".join(self.missing_terms[:6]))
        return "; ".join(parts) or "supported"


def check_support(sentence: str, passages: Sequence[str]) -> Support:
    """How much of `sentence` the texts `passages` (each what a citation vouches for,
    :func:`supporting_text`) hold."""
    available = set().union(*(stems(p) for p in passages)) if passages else set()
    # Figures are compared by value below ("1,200" is "1200", "three" is "3"), not as words.
    terms = [t for t in content_terms(sentence) if not figures_in(t)]
    missing_terms = tuple(t for t in terms if stem(t) not in available)
    share = 1.0 - len(missing_terms) / len(terms) if terms else 0.0
    backed = figures_backed(passages)
    missing_numbers = tuple(
        dict.fromkeys(f.surface for f in figures_in(sentence) if not figure_is_backed(f, backed))
    )
    keys = name_keys(passages)
    missing_names = tuple(
        name for name, words in names_in(sentence).items() if not set(words) <= keys
    )
    dates = set().union(*(dates_in(p) for p in passages)) if passages else set()
    missing_dates = tuple(
        written for date, written in dates_in(sentence).items() if date not in dates
    )
    return Support(
        share,
        missing_terms,
        missing_numbers,
        missing_names,
        missing_dates,
        negation_problem(sentence, passages),
    )


def best_evidence(sentence: str, text: str, spans: Sequence[Span]) -> Span:
    """Of the sentences `spans` of `text`, the one that shares most words with `sentence`.

    Ties go to the earlier sentence.
    """
    if not spans:
        raise ValueError("a passage without sentences has no evidence to give")
    wanted = {stem(t) for t in content_terms(sentence)}
    return max(
        spans,
        key=lambda s: (len(wanted & stems(text[s.start : s.end])), -s.start),
    )


def supporting_text(article: Article, passage: Passage) -> str:
    """What citing `passage` vouches for: the passage, with its article's title, outlet
    and publication date ("Monday 15 April 2024"), as the model was shown them."""
    about = [article.title, article.outlet or ""]
    if article.published is not None:
        day = article.published
        about.append(
            f"{_WEEKDAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"
        )
    return "\n".join([*about, passage.text])
