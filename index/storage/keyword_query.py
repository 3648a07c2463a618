"""Free text into FTS5 queries: the words worth searching for, quoted so nothing is syntax."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.storage.rows import ArticleFilter
from index.storage.stopwords import STOPWORDS

__all__ = [
    "fts_query",
    "keyword_sql",
    "match_expression",
    "prune_common_terms",
    "query_terms",
    "required_terms",
    "text_words",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text typed by a user, or None if it has no words.

    Every term is double-quoted, so punctuation and FTS5 syntax in the input (quotes,
    `*`, `-`, `:`, `^`, NEAR, AND/OR/NOT) are searched as plain words and never raise.
    Terms are OR-ed: bm25 ranks passages holding more (and rarer) terms higher.
    """
    return match_expression(query_terms(text))


def query_terms(text: str) -> list[str]:
    """The distinct words of `text` worth searching for: stopwords go unless that is all."""
    words = text_words(text)
    content = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(content or words))[:64]


def text_words(text: str) -> list[str]:
    """Every word of `text`, lowercased, as the keyword search splits it."""
    return [w.lower() for w in _WORD.findall(text)]


def match_expression(terms: Sequence[str]) -> str | None:
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def keyword_sql(
    match: str, where: ArticleFilter, *, title_weight: float, required: str | None
) -> tuple[str, list[object]]:
    """The query (and its parameters, but for the final LIMIT) of a bm25-ranked keyword
    search for the FTS5 `match` expression, restricted by `where` and, with `required`,
    to passages that also match that expression."""
    clause, params = where.sql()
    conditions = ["passages_fts MATCH ?"]
    values: list[object] = [match]
    if required is not None:
        conditions.append("+f.rowid IN (SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?)")
        values.append(required)
    if where.active:
        # The filter as a set of passage ids, built once per search from the articles'
        # indexes, rather than a join tried on every passage the words match: a week's
        # window on a 100,000-passage store searches in 5 ms instead of 21 ms (a filter that
        # admits nearly every passage costs about a fifth more). The unary plus keeps
        # SQLite from driving the full-text search by the set's rowids, which is far slower.
        conditions.append(
            "+f.rowid IN (SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id"
            f" WHERE {clause})"
        )
        values.extend(params)
    sql = (
        f"SELECT f.rowid, bm25(passages_fts, {float(title_weight)}, 1.0) AS rank"
        f" FROM passages_fts f WHERE {' AND '.join(conditions)} ORDER BY rank LIMIT ?"
    )
    return sql, values


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
