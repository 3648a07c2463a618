"""How a search ranks: fusing the dense and keyword rankings, and bounding the keyword work.

Pure functions over rankings and term statistics; the knowledge base feeds them what the
store and the vector index found.
"""

from __future__ import annotations

from collections.abc import Sequence

from index.storage.keyword_query import match_expression

__all__ = ["prune_common_terms", "reciprocal_rank_fusion", "required_terms"]


def reciprocal_rank_fusion(
    dense: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float]],
    k: int,
    *,
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[tuple[int, float, float | None, float | None]]:
    """Fuse two rankings by summing w/(k + rank): robust to their scores' different scales."""
    fused: dict[int, float] = {}
    dense_scores = dict(dense)
    keyword_scores = dict(keyword)
    for ranking, weight in zip((dense, keyword), weights, strict=True):
        for rank, (pid, _) in enumerate(ranking, start=1):
            fused[pid] = fused.get(pid, 0.0) + weight / (k + rank)
    order = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    return [(pid, score, dense_scores.get(pid), keyword_scores.get(pid)) for pid, score in order]


def prune_common_terms(
    terms: Sequence[str],
    frequencies: Sequence[int],
    *,
    common_term_passages: int,
    scored_postings: int,
) -> tuple[list[str], str | None]:
    """The query `terms` worth searching for, and the expression a passage must match to be
    scored (see :func:`required_terms`), given how many passages hold each term.

    Terms held by more than `common_term_passages` passages are dropped (0 keeps all), but
    the two rarest are always kept.
    """
    ranked = sorted(zip(frequencies, terms, strict=True))
    common = common_term_passages
    kept = {t for f, t in ranked if not common or f <= common} | {t for _, t in ranked[:2]}
    required = required_terms([(f, t) for f, t in ranked if t in kept], scored_postings)
    return [t for t in terms if t in kept], required


def required_terms(ranked: Sequence[tuple[int, str]], budget: int) -> str | None:
    """When the query's words hold more postings than `budget`, an expression of its
    rarest words (as many as fit the budget, at least one) that a passage must hold to
    be scored: bm25 costs per scored passage, so this bounds the work of one search on
    a large store while the scores themselves still count every word."""
    if not budget or sum(f for f, _ in ranked) <= budget:
        return None
    rare: list[str] = []
    total = 0
    for frequency, term in ranked:
        if rare and total + frequency > budget:
            break
        rare.append(term)
        total += frequency
    return match_expression(rare) if len(rare) < len(ranked) else None
