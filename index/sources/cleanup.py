"""The text clean-up rules that every input format shares.

The stored text is what answers later quote verbatim, so every format ends in the same
rules: line breaks unified and invisible characters dropped (:func:`prepare_text`), every run
of whitespace inside a paragraph collapsed to one space (:func:`collapse_whitespace`),
whole-line boilerplate such as "Advertisement" recognised anywhere
(:func:`is_exact_boilerplate`) and boilerplate that only counts at the top or bottom of a
page, such as "All rights reserved" (:func:`is_edge_boilerplate`). A title is derived from
the first sentence when a source names none (:func:`title_from_text`), and an article over
the configured size is refused (:func:`check_article_length`).
"""

from __future__ import annotations

import re

from index.errors import BadInputError
from index.models import ParsedArticle

__all__ = [
    "MAX_HEADER_LINE",
    "boilerplate_key",
    "check_article_length",
    "collapse_whitespace",
    "is_edge_boilerplate",
    "is_exact_boilerplate",
    "is_separator",
    "prepare_text",
    "title_from_text",
]

# Only lines this short can be date lines or bylines; it also keeps the checks cheap.
MAX_HEADER_LINE = 120
_MAX_EDGE_BOILERPLATE = 300
_DERIVED_TITLE_CHARS = 100

# Whitespace and invisible characters -----------------------------------------------------

# Zero-width spaces, soft hyphens, stray BOMs and C0 controls are invisible in a reader but
# would break quoting and matching; tab, newline, VT and form feed count as whitespace.
_INVISIBLE_RE = re.compile(r"[\u200b\u00ad\ufeff\x00-\x08\x0e-\x1f\x7f]")


def prepare_text(raw: str) -> str:
    """Unify line breaks to "\n" and drop invisible characters."""
    # Plain `in` tests first: they are far cheaper than a regex pass over every article.
    text = raw
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for separator in ("\u2028", "\x85"):
        if separator in text:
            text = text.replace(separator, "\n")
    if "\u2029" in text:
        text = text.replace("\u2029", "\n\n")
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    return text


def collapse_whitespace(text: str) -> str:
    """Collapse every run of whitespace (NBSP and newlines included) to one space."""
    return " ".join(text.split())


# Boilerplate -----------------------------------------------------------------------------

# Whole lines that are page furniture wherever they appear; compared lower-cased, without
# trailing punctuation, so "Advertisement", "ADVERTISEMENT" and "Share:" all match.
_EXACT_BOILERPLATE = frozenset(
    {
        "go to contents",
        "skip to main content",
        "skip to content",
        "skip to navigation",
        "skip navigation",
        "jump to content",
        "advertisement",
        "advertising",
        "sponsored",
        "sponsored content",
        "share",
        "share this",
        "share this article",
        "share this story",
        "share this page",
        "share on facebook",
        "share on twitter",
        "share via email",
        "tweet",
        "print",
        "email",
        "copy link",
        "link copied",
        "subscribe",
        "subscribe now",
        "sign up",
        "sign in",
        "log in",
        "register",
        "menu",
        "open menu",
        "close",
        "toggle navigation",
        "back to top",
        "read more",
        "continue reading",
        "story continues below",
        "story continues below advertisement",
        "article continues below",
        "scroll to continue",
        "scroll to continue with content",
        "listen to this article",
        "related",
        "related articles",
        "related stories",
        "related content",
        "related coverage",
        "more stories",
        "recommended",
        "recommended stories",
        "you may also like",
        "most read",
        "most popular",
        "top stories",
        "trending",
        "comments",
        "all rights reserved",
    }
)


# Boilerplate that is only removed at the top or bottom of a page, because the same words
# can start a real paragraph in the middle of an article.
_EDGE_BOILERPLATE_RE = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (
            r"^(?:copyright\s*)?(?:©|\(c\))",
            r"^copyright\s+(?:©\s*)?\d{4}\b",
            r"\ball rights reserved\b",
            r"^follow (?:us|me|[\w.'’-]+(?: [\w.'’-]+){0,3}) on (?:twitter|x|facebook|instagram"
            r"|linkedin|tiktok|threads|youtube|bluesky|mastodon|social media)\b",
            r"^click here\b",
            r"^(?:subscribe|sign up)\b.*\b(?:newsletters?|now|today|here|free|inbox|updates"
            r"|alerts|our|subscriber|subscription)\b",
            r"\bnewsletter\b.*\b(?:sign up|subscribe|inbox)\b",
            r"\b(?:sign up|subscribe)\b.*\bnewsletter",
            r"\bcookies?\b.*\b(?:we use|this (?:site|website) uses|accept|consent)\b",
            r"\bcookies?\b.*\bprivacy policy\b",
            r"\b(?:we use|this (?:site|website) uses)\b.*\bcookies?\b",
            r"^(?:read more|related|see also|also read|read also|more from|watch)\s*[:|»›]",
            r"^share (?:this|on|via)\b",
            r"^contributing\s*:",
        )
    ),
    re.IGNORECASE,
)

_ALNUM_RE = re.compile(r"[^\W_]")


def is_separator(text: str) -> bool:
    """A line without letters or digits: rules, "* * *", "___", a lone bullet."""
    return _ALNUM_RE.search(text) is None


def is_exact_boilerplate(text: str) -> bool:
    """Whether the line `text` is page furniture wherever it stands ("Advertisement", "Share:")."""
    return len(text) <= 60 and boilerplate_key(text) in _EXACT_BOILERPLATE


def boilerplate_key(text: str) -> str:
    """`text` as the boilerplate lists are compared: case-folded, outer punctuation stripped."""
    return text.casefold().strip(" .:!|»›>-–—•·")


def is_edge_boilerplate(text: str) -> bool:
    """Whether the line `text` is boilerplate when it opens or closes a page (copyright,
    "Follow us on ...", newsletter and cookie notices, and all exact boilerplate)."""
    if is_exact_boilerplate(text):
        return True
    if len(text) > _MAX_EDGE_BOILERPLATE:
        return False
    return _EDGE_BOILERPLATE_RE.search(text) is not None


# Limits and titles -----------------------------------------------------------------------


def check_article_length(article: ParsedArticle, max_article_chars: int) -> None:
    """Refuse (:class:`BadInputError`) an article longer than `max_article_chars`."""
    length = len(article.text)
    if length > max_article_chars:
        raise BadInputError(
            article.source,
            f"article is {length:,} characters, over the limit of {max_article_chars:,} "
            "(ingest.max_article_chars)",
        )


_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+[\"'“‘(\[]*[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "gen",
        "sen",
        "rep",
        "gov",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "pres",
        "no",
        "vs",
        "etc",
        "inc",
        "co",
        "corp",
        "ltd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


def title_from_text(paragraph: str) -> str:
    """The first sentence of `paragraph`, cut at a word boundary to about 100 characters."""
    sentence = paragraph
    for match in _SENTENCE_END_RE.finditer(paragraph):
        if not _ends_with_abbreviation(paragraph[: match.start() + 1]):
            sentence = paragraph[: match.end()]
            break
    sentence = sentence.rstrip(".").strip()
    if len(sentence) <= _DERIVED_TITLE_CHARS:
        return sentence
    cut = sentence[: _DERIVED_TITLE_CHARS + 1]
    space = cut.rfind(" ")
    if space > _DERIVED_TITLE_CHARS // 2:
        cut = cut[:space]
    return cut[:_DERIVED_TITLE_CHARS].rstrip(" ,;:-–—") + "…"


def _ends_with_abbreviation(text: str) -> bool:
    word = text.rsplit(maxsplit=1)[-1] if text.strip() else ""
    # Initials and dotted abbreviations: "U.S.", "J.", "a.m."
    if re.fullmatch(r"(?:\w\.)+", word):
        return True
    return word.rstrip(".").lstrip("\"'“‘(").casefold() in _ABBREVIATIONS
