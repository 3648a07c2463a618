"""HTML article pages: main text and metadata by trafilatura, the publication date by htmldate.

Nothing here parses HTML by hand. trafilatura finds the article body and strips the page
chrome (navigation, cookie banners, share buttons, related links, footers) and reads the
title, author, site name and canonical URL from the page's metadata (OpenGraph, JSON-LD,
``<meta>`` tags). htmldate, run by trafilatura with the parameters below, finds the
*original* publication date with its time of day where the page states one.

What this module adds on top is small and targeted:

* depth: a page nested deeper than libxml2 builds trees is flattened first
  (:mod:`index.sources.html_depth`), or its text after the deep part would be lost;
* decoding: trafilatura decodes bytes as UTF-8 or else by statistical guessing, ignoring
  the page's declared charset, so bytes that are not UTF-8 are decoded here with the
  charset that lxml (libxml2) reads from the page's ``<meta>`` tags;
* dates: htmldate, asked for the original date, still falls back to a *modified* date
  found in the ``<head>`` before it looks at JSON-LD ``datePublished``, and reads a
  copyright year as 1 January; the ``<meta>`` tags that carry those are dropped from the
  tree before extraction. Where htmldate only finds a day (from visible text or the URL),
  a ``<time datetime=...>`` on that same day supplies the time;
* the text is normalised to the project's conventions (paragraphs separated by a blank
  line, whitespace collapsed), the headline is not repeated as the first paragraph, and
  whole-paragraph boilerplate that survives extraction is dropped with the same rules
  the other input formats use.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime
from typing import Any, Final

import lxml.etree
import lxml.html
import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document

from index.errors import BadInputError
from index.models import ParsedArticle
from index.sources.cleanup import (
    check_article_length,
    collapse_whitespace,
    is_edge_boilerplate,
    is_exact_boilerplate,
    prepare_text,
    title_from_text,
)
from index.sources.dates import parse_published
from index.sources.html_depth import flatten_deep_html, reaches_depth
from index.sources.outlets import domain_of
from index.sources.sniffing import BOMS, is_xml_feed, looks_like_html, sniff_text

__all__ = ["extract_html", "looks_like_html"]

# Where the charset declaration is looked for. The HTML standard asks for it in the first
# 1024 bytes; this leaves room for pages with long comments or scripts before it.
_CHARSET_SNIFF_BYTES: Final = 16_384
_BINARY_SNIFF_BYTES: Final = 8192
# WHATWG Encoding: "iso-8859-1" and "ascii" labels mean windows-1252, which is also what
# libxml2's default (ISO-8859-1, when a page declares nothing) should be read as.
_WINDOWS_1252_ALIASES: Final = frozenset({"latin-1", "iso8859-1", "ascii"})

# htmldate's output format: it keeps the time of day and the UTC offset when the source
# (a meta tag, JSON-LD, a timestamp in the page) has them, and gives 00:00:00 without an
# offset when it only found a day.
_DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%z"
_DATE_ONLY_SUFFIX: Final = "T00:00:00"
_DATE_PARAMS: Final[dict[str, Any]] = {
    "original_date": True,
    # The extensive search reads a copyright line such as "© 2024" as 1 January 2024 and
    # guesses from free text; a missing date is better than an invented one.
    "extensive_search": False,
    "outputformat": _DATE_FORMAT,
    # A date in the URL is only a day: let full timestamps in the page come first.
    "deferred_url_extractor": True,
}
# <meta> names, properties and itemprops that carry a last-modified date (or a copyright
# year), which htmldate would fall back to before reading JSON-LD "datePublished".
_UPDATE_META_WORDS: Final = ("modif", "updat", "revis", "lastmod", "last-mod")
_UPDATE_META_NAMES: Final = frozenset({"utime", "lastdate", "copyrightyear"})
_META_KEY_ATTRIBUTES: Final = ("name", "property", "itemprop", "http-equiv")

_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
# A promotional link line inside the body, such as "Read more: <headline>".
_INLINE_PROMO_RE: Final = re.compile(
    r"^(?:read more|read also|also read|see also|related|more on this|more from \w+)\s*[:|»›]",
    re.IGNORECASE,
)
_MAX_INLINE_PROMO_CHARS: Final = 200
_LIST_ITEM_PREFIX: Final = "- "
# Fewer words than this after cleaning is page chrome (a section name, a lone link), not
# an article.
_MIN_ARTICLE_WORDS: Final = 10


def extract_html(
    html: str | bytes,
    *,
    source: str,
    url: str | None = None,
    max_article_chars: int = 2_000_000,
) -> ParsedArticle:
    """Extract the article of an HTML page: its main text and its metadata.

    `source` names the page in errors and in the result (a path or a URL); `url` is the
    page's address when known, used when the page names no canonical URL and to date it.
    Bytes are decoded by their byte-order mark, as UTF-8, or else with the charset the
    page declares. Raises :class:`BadInputError` when the input is not an HTML page,
    holds no article text, or its text is longer than `max_article_chars`.
    """
    text = _decode(html, source)
    head = sniff_text(text)
    if not head.startswith("<") or is_xml_feed(head):
        raise BadInputError(source, _not_html_reason(head))
    tree = _load_tree(text)
    if tree is not None and reaches_depth(tree):
        # The parser stopped deep inside the page and dropped all that came after.
        tree = _load_tree(flatten_deep_html(text))
    if tree is None:
        raise BadInputError(source, "not an HTML page (no document could be parsed from it)")
    _drop_update_dates(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_precision=True,
        date_extraction_params=dict(_DATE_PARAMS),
    )
    if not isinstance(document, Document):
        raise BadInputError(source, "no article text found in the page")
    title = _clean_field(document.title)
    paragraphs = _paragraphs(document.text or "", title)
    if sum(len(paragraph.split()) for paragraph in paragraphs) < _MIN_ARTICLE_WORDS:
        raise BadInputError(source, "no article text found in the page")
    page_url = _clean_field(document.url) or url
    article = ParsedArticle(
        title=title or title_from_text(paragraphs[0]),
        text="\n\n".join(paragraphs),
        source=source,
        url=page_url,
        outlet=_outlet(document.sitename, page_url, url),
        published=_published(document.date, tree),
        language=_clean_field(document.language) or _page_language(tree),
        author=_authors(document.author),
    )
    check_article_length(article, max_article_chars)
    return article


# --------------------------------------------------------------------------------------
# Decoding and sniffing
# --------------------------------------------------------------------------------------


def _decode(html: str | bytes, source: str) -> str:
    text = html.removeprefix("\ufeff") if isinstance(html, str) else _decode_bytes(html, source)
    if not text.strip():
        raise BadInputError(source, "empty document")
    return text


def _decode_bytes(data: bytes, source: str) -> str:
    for bom, codec in BOMS:
        if data.startswith(bom):
            # A byte-order mark overrides any declared charset (HTML standard).
            return data[len(bom) :].decode(codec, errors="replace")
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise BadInputError(source, "binary data (contains NUL bytes), not HTML")
    try:
        # Valid UTF-8 is taken as UTF-8 even under another label: mislabelled UTF-8 pages
        # are common, and real text in a legacy encoding is almost never valid UTF-8.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(_declared_charset(data), errors="replace")


def _declared_charset(data: bytes) -> str:
    """The charset the page declares in ``<meta>``, as libxml2 reads it; else windows-1252."""
    try:
        head = lxml.html.document_fromstring(data[:_CHARSET_SNIFF_BYTES])
        declared = head.getroottree().docinfo.encoding
        name = codecs.lookup(declared).name if declared else "cp1252"
    except (lxml.etree.ParserError, LookupError, ValueError):
        return "cp1252"
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def _not_html_reason(head: str) -> str:
    if head.startswith(("{", "[")):
        kind = "it looks like JSON"
    elif head.startswith("%pdf"):
        kind = "it is a PDF document"
    elif is_xml_feed(head):
        kind = "it is an RSS or Atom feed"
    else:
        kind = "it does not start with markup"
    return f"not an HTML page ({kind})"


def _load_tree(text: str) -> HtmlElement | None:
    # Without a surrounding element, a lone "<p>..</p>" fragment is rejected by trafilatura.
    if not looks_like_html(text):
        text = f"<html><body>{text}</body></html>"
    tree = trafilatura.load_html(text)
    return tree if isinstance(tree, HtmlElement) else None


# --------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------


def _drop_update_dates(tree: HtmlElement) -> None:
    """Remove ``<meta>`` tags of last-modified dates and copyright years from `tree`."""
    for meta in list(tree.iter("meta")):
        for attribute in _META_KEY_ATTRIBUTES:
            key = (meta.get(attribute) or "").strip().lower()
            if key and (
                key in _UPDATE_META_NAMES or any(word in key for word in _UPDATE_META_WORDS)
            ):
                meta.drop_tree()
                break


def _published(raw: str | None, tree: HtmlElement) -> datetime | None:
    """The publication date htmldate found, refined to a time when the page has one.

    htmldate reads visible dates ("January 22, 2024") and dates in the URL as a day at
    midnight; a ``<time datetime=...>`` of that same day then gives the time.
    """
    if not raw:
        return None
    moment = parse_published(raw)
    if moment is None or not raw.endswith(_DATE_ONLY_SUFFIX):
        return moment
    day = raw[:10]
    for element in tree.iter("time"):
        stamp = (element.get("datetime") or "").strip()
        if stamp.startswith(day) and len(stamp) > len(day):
            precise = parse_published(stamp)
            if precise is not None:
                return precise
    return moment


def _outlet(sitename: str | None, page_url: str | None, given_url: str | None) -> str | None:
    """The site's own name; None when trafilatura only had the domain to go on."""
    name = _clean_field(sitename)
    if name is None:
        return None
    hosts = {domain_of(address) for address in (page_url, given_url)}
    return None if name.casefold() in hosts else name


def _authors(author: str | None) -> str | None:
    # trafilatura joins several authors with "; "; the other formats use ", ".
    names = [name.strip() for name in (author or "").split(";")]
    return ", ".join(name for name in names if name) or None


def _page_language(tree: HtmlElement) -> str | None:
    return _clean_field(tree.get("lang") or tree.get(_XML_LANG))


def _clean_field(value: str | None) -> str | None:
    return (collapse_whitespace(value) or None) if value else None


# --------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------


def _paragraphs(text: str, title: str | None) -> list[str]:
    """trafilatura's lines as clean paragraphs, without the headline and leftover chrome."""
    paragraphs: list[str] = []
    for line in prepare_text(text).split("\n"):
        paragraph = collapse_whitespace(line)
        if paragraph.startswith(_LIST_ITEM_PREFIX):
            paragraph = paragraph[len(_LIST_ITEM_PREFIX) :].strip()
        if paragraph and not _is_inline_boilerplate(paragraph):
            paragraphs.append(paragraph)
    title_key = title.casefold() if title else None
    start, end = 0, len(paragraphs)
    while start < end and (
        paragraphs[start].casefold() == title_key or is_edge_boilerplate(paragraphs[start])
    ):
        start += 1
    while end > start and is_edge_boilerplate(paragraphs[end - 1]):
        end -= 1
    return paragraphs[start:end]


def _is_inline_boilerplate(paragraph: str) -> bool:
    return is_exact_boilerplate(paragraph) or (
        len(paragraph) <= _MAX_INLINE_PROMO_CHARS and _INLINE_PROMO_RE.match(paragraph) is not None
    )
