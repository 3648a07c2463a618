"""Does a written sentence say only what its cited passages say?

A written (LLM) sentence is not a quote, so it cannot be checked character for character.
The check is lexical and deliberately strict: most of the sentence's content words must
occur in the passages it cites, and every number in it must occur there too, so a figure,
date or name the passages never mention is caught. The sentence's evidence is the one
sentence of a cited passage that shares the most of its content words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.text import content_terms, stem, stems
from index.models import Span

__all__ = ["Support", "best_evidence", "check_support", "numbers_in", "supporting_text"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_in(text: str) -> set[str]:
    """The numbers written in `text`, with thousands separators dropped ("25,000" → "25000")."""
    return {match.group().replace(",", "") for match in _NUMBER.finditer(text)}


@dataclass(frozen=True)
class Support:
    """How well the cited passages back a sentence."""

    share: float  # share of the sentence's content words found in the passages
    missing_terms: tuple[str, ...]
    missing_numbers: tuple[str, ...]

    def holds(self, min_share: float) -> bool:
        return not self.missing_numbers and self.share >= min_share

    def describe(self) -> str:
        parts = []
        if self.missing_numbers:
            parts.append("numbers not in its sources: " + ", ".join(self.missing_numbers))
        if self.missing_terms:
            parts.append("words not in its sources: " + ", ".join(self.missing_terms[:6]))
        return "; ".join(parts) or "supported"


def check_support(sentence: str, passages: Sequence[str]) -> Support:
    """How much of `sentence` the texts `passages` (each a passage with its title) hold."""
    available = set().union(*(stems(p) for p in passages)) if passages else set()
    terms = content_terms(sentence)
    missing_terms = tuple(t for t in terms if stem(t) not in available)
    share = 1.0 - len(missing_terms) / len(terms) if terms else 0.0
    passage_numbers = set().union(*(numbers_in(p) for p in passages)) if passages else set()
    missing_numbers = tuple(sorted(numbers_in(sentence) - passage_numbers))
    return Support(share, missing_terms, missing_numbers)


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


def supporting_text(title: str, passage_text: str) -> str:
    """What citing a passage vouches for: its article's title and the passage itself."""
    return f"{title}\n{passage_text}"
