"""Scraped plain text and Markdown documents, with or without front matter, into articles.

The header of a scraped page (navigation links, the title, bylines, "Posted ..." lines) and
its footer (copyright, "Follow us", related links) are peeled off line by line, whole-line
boilerplate such as "Advertisement" is dropped anywhere, and the remaining text is
normalised to paragraphs separated by exactly one blank line, with every run of whitespace
inside a paragraph collapsed to one space. JSON records go through the same cleaning
(:func:`article_from_body`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from index.errors import BadInputError
from index.models import ParsedArticle
from index.sources.cleanup import (
    MAX_HEADER_LINE,
    boilerplate_key,
    collapse_whitespace,
    is_edge_boilerplate,
    is_exact_boilerplate,
    is_separator,
    prepare_text,
    title_from_text,
)
from index.sources.dates import read_date_line
from index.sources.front_matter import split_front_matter
from index.sources.markdown import markdown_to_text
from index.sources.metadata import ArticleMeta

__all__ = ["article_from_body", "parse_document", "parse_text"]

# Lines longer than this were not hard-wrapped by a person or a mail client, so a single
# newline between such lines separates paragraphs rather than wrapping one.
_HARD_WRAP_WIDTH = 120
_MAX_TITLE_LINE = 200


def parse_text(raw: str, *, source: str) -> ParsedArticle:
    """Parse scraped plain text, or text that starts with YAML/TOML front matter."""
    return parse_document(raw, source=source, markdown=False)


def parse_document(raw: str, *, source: str, markdown: bool) -> ParsedArticle:
    """Parse a text document: front matter, then the body, as Markdown when `markdown`."""
    text = prepare_text(raw)
    meta, body = split_front_matter(text, source)
    if markdown:
        body = markdown_to_text(body)
    return article_from_body(body, meta, source, find_title=True)


# Cleaning a scraped page into title, metadata and body -----------------------------------

# Headings of the link lists that close many scraped pages; everything after them goes.
_RELATED_SECTION_HEADINGS = frozenset(
    {
        "related",
        "related articles",
        "related stories",
        "related content",
        "related coverage",
        "read more",
        "more stories",
        "more on this story",
        "recommended",
        "recommended stories",
        "you may also like",
        "most read",
        "most popular",
        "top stories",
        "see also",
        "also read",
        "what to read next",
    }
)
_MAX_RELATED_LINKS = 15
_MAX_RELATED_LINK_CHARS = 150


# "CNN —", "Washington CNN Business —": a dateline standing alone above the first paragraph.
_DATELINE_RE = re.compile(r"^[A-Z][\w .,'’&()-]{0,60}\s(?:—|–|--)$")


@dataclass
class _Header:
    """What peeling the top of a page found."""

    title: str | None = None
    title_from_text: bool = False
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    body_start: int = 0
    dropped_title_repeat: bool = False


def article_from_body(
    body: str, meta: ArticleMeta, source: str, *, find_title: bool
) -> ParsedArticle:
    """The article in `body` (prepared text), its page furniture removed.

    What `meta` states wins over what the header lines say; with `find_title`, the first
    substantive line is taken as the title when `meta` names none.
    """
    lines = body.split("\n")
    header = _peel_header(lines, meta.title, find_title=find_title)
    end = _peel_footer(lines, header.body_start)
    paragraphs = _paragraphs(_without_inline_boilerplate(lines[header.body_start : end]))
    title = meta.title or header.title
    if not paragraphs and title and (header.title_from_text or header.dropped_title_repeat):
        # A page holding nothing but its headline: keep the headline as the text too.
        paragraphs = [title]
    if not paragraphs:
        raise BadInputError(source, "no article text found")
    return ParsedArticle(
        title=title or title_from_text(paragraphs[0]),
        text="\n\n".join(paragraphs),
        source=source,
        url=meta.url,
        outlet=meta.outlet,
        published=meta.published or header.published or header.updated,
        country=meta.country,
        language=meta.language,
        author=meta.author or header.author,
    )


def _peel_header(lines: Sequence[str], title: str | None, *, find_title: bool) -> _Header:
    """Drop navigation, title, date and byline lines from the top; stop at the body.

    The first substantive line is the title (when `find_title`); later copies of it are
    dropped. The first line that is none of these starts the body.
    """
    header = _Header(title=title)
    title_key = title.casefold() if title else None
    index = 0
    while index < len(lines):
        text = collapse_whitespace(lines[index])
        if title_key is not None and text.casefold() == title_key:
            header.dropped_title_repeat = True
        elif _take_header_furniture(text, header):
            pass
        elif find_title and header.title is None and _is_title_line(lines, index, text):
            header.title = text
            header.title_from_text = True
            title_key = text.casefold()
        else:
            break
        index += 1
    header.body_start = index
    return header


def _take_header_furniture(text: str, header: _Header) -> bool:
    """Whether `text` is a blank, boilerplate, dateline, date or byline line.

    Dates and authors found on the way are recorded in `header`.
    """
    return (
        not text
        or is_separator(text)
        or is_edge_boilerplate(text)
        or _DATELINE_RE.match(text) is not None
        or _take_date_line(text, header)
        or _take_byline(text, header)
    )


def _is_title_line(lines: Sequence[str], index: int, text: str) -> bool:
    if len(text) > _MAX_TITLE_LINE or text.endswith((",", ";")):
        return False
    # Headlines do not end with a full stop; a line that does is the first sentence of a
    # page without a headline, and taking it as the title would cut it from the body.
    if text.endswith(".") and not text.endswith(("...", "..")):
        return False
    next_line = lines[index + 1].strip() if index + 1 < len(lines) else ""
    # A following line that starts in lower case continues a hard-wrapped paragraph.
    return not next_line[:1].islower()


def _take_date_line(text: str, header: _Header) -> bool:
    dates = read_date_line(text)
    if dates is None:
        return False
    for kind, moment in dates:
        if kind == "updated":
            header.updated = header.updated or moment
        else:
            header.published = header.published or moment
    return True


def _take_byline(text: str, header: _Header) -> bool:
    # "Jane Doe, CNN" without "By" is only trusted below a headline: above one, it is
    # as likely to be a headline such as "Joe Biden, NATO".
    author = _byline(text, allow_bare=header.title is not None)
    if author is None:
        return False
    header.author = header.author or author
    return True


def _peel_footer(lines: Sequence[str], start: int) -> int:
    """Return the end of the body: trailing boilerplate and a related-links list removed."""
    end = _related_section_start(lines, start)
    while end > start:
        text = collapse_whitespace(lines[end - 1])
        if text and not is_separator(text) and not is_edge_boilerplate(text):
            break
        end -= 1
    return end


def _related_section_start(lines: Sequence[str], start: int) -> int:
    """Where a closing "Related articles" list of short headline lines begins, if any."""
    links = 0
    for index in range(len(lines) - 1, start - 1, -1):
        text = collapse_whitespace(lines[index])
        if not text:
            continue
        if boilerplate_key(text) in _RELATED_SECTION_HEADINGS:
            return index
        links += 1
        if links > _MAX_RELATED_LINKS or len(text) > _MAX_RELATED_LINK_CHARS:
            break
    return len(lines)


def _without_inline_boilerplate(lines: Sequence[str]) -> list[str]:
    # Blanked rather than removed: such a line sits between paragraphs, and removing it
    # would join the paragraphs around it.
    result: list[str] = []
    for line in lines:
        text = line.strip()
        if text and (
            is_separator(text)
            or (len(text) <= 60 and is_exact_boilerplate(collapse_whitespace(text)))
        ):
            result.append("")
        else:
            result.append(line)
    return result


def _paragraphs(lines: Sequence[str]) -> list[str]:
    """Group lines into paragraphs at blank lines and normalise their whitespace."""
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line)
        elif block:
            paragraphs.extend(_block_paragraphs(block))
            block = []
    return paragraphs


def _block_paragraphs(block: Sequence[str]) -> list[str]:
    if len(block) > 1 and max(len(line) for line in block) > _HARD_WRAP_WIDTH:
        return [collapse_whitespace(line) for line in block if line.strip()]
    return [collapse_whitespace(" ".join(block))]


# Bylines ---------------------------------------------------------------------------------

_BYLINE_RE = re.compile(
    r"^(?:by|written by|words by|story by|reporting by)\s*:?\s+(?P<names>.+)$", re.IGNORECASE
)
_NAME_PARTICLES = frozenset(
    [
        "and",
        "&",
        "de",
        "van",
        "von",
        "der",
        "den",
        "da",
        "di",
        "du",
        "del",
        "della",
        "la",
        "le",
        "al",
        "el",
        "bin",
        "ibn",
        "y",
        "dos",
        "das",
    ]
)
_NAME_WORD_RE = re.compile(r"^(?:[A-Z\u00c0-\u024f][\w.'’-]*|[A-Z]\.)$")
_AFFILIATION_WORDS = frozenset(
    [
        "reuters",
        "ap",
        "afp",
        "cnn",
        "bbc",
        "bloomberg",
        "press",
        "news",
        "staff",
        "correspondent",
        "reporter",
        "writer",
        "editor",
        "times",
        "post",
        "agency",
        "associated",
        "journal",
        "tribune",
        "herald",
        "today",
        "guardian",
        "telegraph",
    ]
)
_KNOWN_WIRES = frozenset({"ap", "afp", "cnn", "bbc", "reuters", "upi", "dpa", "efe"})


def _byline(text: str, *, allow_bare: bool) -> str | None:
    """The author named by a byline such as "By Jane Doe and John Roe, Reuters", or None.

    With `allow_bare`, "Jane Doe, CNN" (a name, then a known outlet) counts too.
    """
    if len(text) > MAX_HEADER_LINE:
        return None
    match = _BYLINE_RE.match(text)
    if match is None:
        return _name_comma_outlet(text) if allow_bare else None
    names = re.split(r"\s*[|•·]\s*", match.group("names"))[0].strip()
    segments = [segment.strip() for segment in names.split(",") if segment.strip()]
    if not segments or not all(_is_name_like(segment) for segment in segments):
        return None
    people = [segment for segment in segments if not _is_affiliation(segment)]
    return ", ".join(people or segments)


def _name_comma_outlet(text: str) -> str | None:
    """Recognise "Jane Doe, CNN": two to four capitalised words, then a known outlet."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2:
        return None
    name, outlet = parts
    words = name.split()
    if not 2 <= len(words) <= 4 or not all(_NAME_WORD_RE.match(word) for word in words):
        return None
    outlet_words = outlet.split()
    is_outlet = outlet.casefold() in _KNOWN_WIRES or (
        len(outlet) >= 3 and 1 <= len(outlet_words) <= 4 and outlet.isupper()
    )
    return name if is_outlet else None


def _is_name_like(segment: str) -> bool:
    words = segment.split()
    if not 1 <= len(words) <= 8:
        return False
    return all(
        _NAME_WORD_RE.match(word) or word.casefold() in _NAME_PARTICLES for word in words
    ) and bool(_NAME_WORD_RE.match(words[0]))


def _is_affiliation(segment: str) -> bool:
    words = segment.split()
    return (
        len(words) == 1
        or segment.isupper()
        or any(word.casefold().strip(".") in _AFFILIATION_WORDS for word in words)
    )
