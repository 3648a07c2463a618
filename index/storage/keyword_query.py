"""Free text into FTS5 queries: the words worth searching for, quoted so nothing is syntax."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.storage.stopwords import STOPWORDS

__all__ = ["fts_query", "match_expression", "query_terms"]

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
    words = [w.lower() for w in _WORD.findall(text)]
    content = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(content or words))[:64]


def match_expression(terms: Sequence[str]) -> str | None:
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
