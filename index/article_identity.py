"""What makes two articles the same article, and when a stored one has changed.

An article is keyed by its URL (normalised: case, trailing slash, ``utm_`` parameters and
fragment dropped) or, without one, by its normalised text; ingesting the same key again
replaces the stored article. Two digests tell what changed: the content (title and text,
which must be embedded again) and the metadata (which need not).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from index.models import ParsedArticle

__all__ = ["article_key", "content_digest", "metadata_digest"]


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if not k.lower().startswith("utm_")]
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def article_key(article: ParsedArticle) -> str:
    """The identity of an article: its URL when it has one, else its normalised text."""
    if article.url and article.url.strip():
        return "url:" + _normalise_url(article.url)
    return "text:" + _digest(re.sub(r"\s+", " ", article.text).strip().lower())


def content_digest(article: ParsedArticle) -> str:
    """A digest of what is embedded: the title and the text."""
    return _digest(article.title, article.text)


def metadata_digest(article: ParsedArticle) -> str:
    """A digest of the metadata stored beside the text: URL, outlet, date, country,
    language and author."""
    published = article.published.isoformat() if article.published else ""
    return _digest(
        *(
            value or ""
            for value in (
                article.url,
                article.outlet,
                published,
                article.country,
                article.language,
                article.author,
            )
        )
    )
