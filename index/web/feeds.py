"""News feeds (RSS 0.9x, 1.0, 2.0 and Atom) read by feedparser into typed entries.

Only parsing lives here: fetching is `index.web.fetch`, feed state `index.web.feed_store`, and a
poll that ties them to the knowledge base `index.web.polling`.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.exceptions
import lxml.html
from lxml import etree

from index.errors import BadInputError

__all__ = ["FeedEntry", "ParsedFeed", "entry_text", "parse_feed"]

# feedparser's names for the formats it recognised.
_FORMATS = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss20": "RSS 2.0",
    "rss10": "RSS 1.0",
    "rss": "RSS",
    "atom01": "Atom 0.1",
    "atom02": "Atom 0.2",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "atom": "Atom",
    "cdf": "CDF",
}

# Problems feedparser reports that do not make a feed unreadable (a charset mislabelled,
# a feed served as text/plain).
_HARMLESS = (feedparser.exceptions.ThingsNobodyCaresAboutButMe,)

# Elements after which an entry's HTML content starts a new paragraph.
_BLOCKS = frozenset(
    "p div li h1 h2 h3 h4 h5 h6 blockquote pre tr section article figcaption dd dt".split()
)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed.

    `key` identifies the entry within its feed across polls: its id (guid), else its
    link, else a hash of its title and content. `published` is naive UTC, from the entry's
    published date or, failing that, its updated date. `content` is plain text (the
    entry's full content when it carries one, else its summary), paragraphs separated by a
    blank line: what is ingested when the article page itself cannot be had.
    """

    key: str
    link: str | None
    title: str
    published: datetime | None
    content: str
    author: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    format: str  # "RSS 2.0", "Atom 1.0", ...
    title: str | None
    link: str | None
    language: str | None
    entries: tuple[FeedEntry, ...]
    empty_entries: int = 0  # items with no link, no title and no text: nothing to take


def parse_feed(data: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document. Raises :class:`BadInputError` (``source=url``) when it is not
    an RSS or Atom feed at all; a feed with some broken markup keeps what could be read.

    `headers` are the HTTP response's (names in any case). Content-Type with its charset
    decides the encoding by the rules of RFC 3023, as feedparser applies them: for
    ``application/*xml`` the header's charset, else the XML declaration's, else UTF-8; for
    ``text/xml`` the header's charset (a declaration cannot override it). Content-Language
    is the feed's language when it names none. Content-Location (else `url`) is where the
    feed is, which relative links resolve against.
    """
    if not data.strip():
        raise BadInputError(url, "the feed is empty")
    given = {name.lower(): value for name, value in (headers or {}).items()}
    base = urljoin(url, given.pop("content-location", "").strip())
    # Without a Content-Location feedparser resolves no relative URI itself: it would
    # resolve an entry's id too ("right" becoming ".../feeds/right"), and an id that is not
    # a URL could no longer be told from one. Links are resolved here, against `base`.
    # A stream, never a string: feedparser fetches a string that looks like a URL itself.
    parsed = feedparser.parse(io.BytesIO(data), response_headers=given)
    version = str(parsed.get("version") or "")
    if not version:
        problem = parsed.get("bozo_exception")
        detail = f" ({_describe_problem(problem)})" if problem else ""
        raise BadInputError(url, f"not an RSS or Atom feed{detail}")
    feed = cast(Mapping[str, Any], parsed.get("feed") or {})
    raw_entries = cast(list[Mapping[str, Any]], parsed.get("entries") or [])
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not raw_entries and not isinstance(problem, _HARMLESS):
        # Broken markup with nothing readable in it; a broken feed that still gave
        # entries keeps them.
        raise BadInputError(
            url, f"malformed {_FORMATS.get(version, version)} feed ({_describe_problem(problem)})"
        )
    read = [_entry(raw, base) for raw in raw_entries]
    entries = tuple(entry for entry in read if entry is not None)
    feed_link = _clean(feed.get("link"))
    return ParsedFeed(
        url=url,
        format=_FORMATS.get(version, version),
        title=_clean(feed.get("title")),
        link=urljoin(base, feed_link) if feed_link else None,
        language=_clean(feed.get("language")),
        entries=entries,
        empty_entries=len(read) - len(entries),
    )


def _describe_problem(problem: object) -> str:
    text = re.sub(r"\s+", " ", str(problem)).strip()
    text = re.sub(r"^<unknown>:", "line ", text)
    return text[:200] or type(problem).__name__


def _entry(raw: Mapping[str, Any], base: str) -> FeedEntry | None:
    link = _link(raw, base)
    title = _plain(_clean(raw.get("title")) or "")
    content = entry_text(raw)
    if not (link or title or content):
        return None  # an empty <item/>: nothing to report or ingest
    guid = _clean(raw.get("id"))
    key = guid or link or "hash:" + hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    published = _date(raw.get("published_parsed")) or _date(raw.get("updated_parsed"))
    return FeedEntry(
        key=key,
        link=link,
        title=title,
        published=published,
        content=content,
        author=_clean(raw.get("author")),
    )


def _link(raw: Mapping[str, Any], base: str) -> str | None:
    """The entry's article: its first (alternate) link that is an http(s) URL once
    resolved against `base`; without one, its id if that is an absolute http(s) URL and
    not marked as no permalink (RSS ``isPermaLink="false"``). An id such as "right" is no
    link: feedparser offers it as one (``guidislink``), but resolving it would fetch a page
    of the feed's own site that the feed never named."""
    guid = raw.get("id")
    link = raw.get("link")
    from_guid = bool(raw.get("guidislink")) and link is not None and link == guid
    candidates: list[str] = [str(link)] if link and not from_guid else []
    for alternate in cast(list[Mapping[str, Any]], raw.get("links") or []):
        if alternate.get("rel", "alternate") == "alternate" and alternate.get("href"):
            candidates.append(str(alternate["href"]))
    for candidate in candidates:
        absolute = urljoin(base, candidate.strip())
        if _is_http_url(absolute):
            return absolute
    if from_guid and guid and _is_http_url(str(guid).strip()):
        return str(guid).strip()
    return None


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _date(value: object) -> datetime | None:
    # feedparser gives UTC struct_time; geobot stores naive UTC.
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC).replace(tzinfo=None)
    except (OverflowError, ValueError, OSError):
        return None


def entry_text(raw: Mapping[str, Any]) -> str:
    """The entry's own text: its longest content block, else its summary, as plain text."""
    blocks = [
        str(block.get("value") or "")
        for block in cast(list[Mapping[str, Any]], raw.get("content") or [])
    ]
    best = max(blocks, key=len, default="")
    summary = str(raw.get("summary") or "")
    return _html_to_text(best if len(best) >= len(summary) else summary)


def _html_to_text(fragment: str) -> str:
    if not fragment.strip():
        return ""
    if "<" not in fragment:
        return _paragraphs(fragment.split("\n\n"))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return _paragraphs([re.sub(r"<[^>]+>", " ", fragment)])
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n\n" + (br.tail or "")
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCKS:
            element.tail = "\n\n" + (element.tail or "")
            element.text = "\n\n" + (element.text or "")
    return _paragraphs(str(root.text_content()).split("\n\n"))


def _paragraphs(parts: list[str]) -> str:
    cleaned = (re.sub(r"\s+", " ", part).strip() for part in parts)
    return "\n\n".join(part for part in cleaned if part)


def _plain(text: str) -> str:
    return _html_to_text(text).replace("\n\n", " ") if "<" in text else text


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text or None
