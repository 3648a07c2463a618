"""How a search ranks: fusing the dense and keyword rankings, and bounding the keyword work.

Pure functions over rankings and term statistics; the knowledge base feeds them what the
store and the vector index found.
"""

from __future__ import annotations

from collections.abc import Sequence

# Bounding the keyword work lives with the keyword queries (the storage layer uses it);
# re-exported here, where rank shaping has always been found.
from index.storage.keyword_query import prune_common_terms, required_terms

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
