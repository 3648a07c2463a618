"""Which other outlets say what a quoted sentence says.

A topic summary quotes one outlet per claim. Whether other outlets report the same thing
is what a reader weighs it by, so each quoted sentence is compared with the passages of
other outlets that were retrieved with it: an outlet corroborates a quote when its
passage supports the quote by the same check that written answers must pass
(:func:`bot.answers.support.check_support`: most content words, and every name, figure
and date, without adding or dropping a negation). Its best sentence is kept as the
evidence, numbered as a source, so the claim "also reported by" is itself checkable.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answers.candidates import outlet_key
from bot.answers.citations import DEFAULT_MIN_SUPPORT, Quote, source_of
from bot.answers.models import Backing, Corroboration, Source
from bot.answers.retrieval import RankedPassage
from bot.answers.support import best_evidence, check_support, supporting_text

__all__ = ["CORROBORATION_SUPPORT", "corroborate", "describe"]

# How much of a quoted sentence another outlet's passage must hold to count as saying it:
# the bar a written sentence must clear against what it cites.
CORROBORATION_SUPPORT = DEFAULT_MIN_SUPPORT
# At most this many other outlets are named for one quote.
MAX_OTHER_OUTLETS = 3


def corroborate(
    quotes: Sequence[Quote],
    passages: Sequence[RankedPassage],
    sources: Sequence[Source],
) -> tuple[tuple[Corroboration, ...], tuple[Source, ...]]:
    """For each quote, the other outlets among `passages` that say the same, and
    `sources` with their articles appended (numbered on)."""
    listed = list(sources)
    number_of = {s.article_id: s.number for s in listed}
    found: list[Corroboration] = []
    for quote in quotes:
        own = outlet_key(quote.article)
        others: dict[str, Backing] = {}
        for ranked in passages:
            article, passage = ranked.hit.article, ranked.hit.passage
            outlet = outlet_key(article)
            if outlet == own or outlet in others or len(others) >= MAX_OTHER_OUTLETS:
                continue
            support = check_support(quote.text, [supporting_text(article, passage)])
            if not support.holds(CORROBORATION_SUPPORT) or not passage.sentences:
                continue
            evidence = best_evidence(quote.text, article.text, passage.sentences)
            number = number_of.get(article.id)
            if number is None:
                number = len(listed) + 1
                listed.append(source_of(number, article))
                number_of[article.id] = number
            others[outlet] = Backing(
                number=number,
                article_id=article.id,
                passage_id=passage.id,
                start=evidence.start,
                end=evidence.end,
                quote=article.text[evidence.start : evidence.end],
                outlet=outlet,
                country=article.country,
                published=article.published,
            )
        found.append(
            Corroboration(
                number=number_of[quote.article.id],
                start=quote.start,
                end=quote.end,
                outlet=own,
                others=tuple(others.values()),
            )
        )
    return tuple(found), tuple(listed)


def describe(corroboration: Corroboration) -> str:
    """ "[1] also reported by 2 other outlets: Reuters (GB) [4], AP (US) [5]", or "[2]
    reported by Wire One only"."""
    others = corroboration.others
    if not others:
        return f"[{corroboration.number}] reported by {corroboration.outlet} only"
    count = "1 other outlet" if len(others) == 1 else f"{len(others)} other outlets"
    named = ", ".join(
        f"{b.outlet}{f' ({b.country})' if b.country else ''} [{b.number}]" for b in others
    )
    return f"[{corroboration.number}] also reported by {count}: {named}"
