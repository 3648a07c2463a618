"""Untrusted text made safe and short for Discord: pure functions, no network.

Article titles, outlets, quotes, questions and a model's sentences can hold anything.
Everything shown goes through `neutralize_mentions` (so nothing can ping) and is cut to
a limit with `trim` (so nothing overflows); links are rebuilt by `link` so no title or
URL can break the markdown around it. Where Discord renders markdown (descriptions,
field names and values, titles), untrusted text is escaped (`escape_markdown`: it shows
as written, no link, heading, mention or code of its own); everywhere, invisible
formatting characters (bidirectional overrides, zero-width characters) are removed
(`collapse`, `safe_markdown`), so a title cannot reorder or hide what follows it.
Senders also pass `NO_PINGS`, the second safeguard.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import quote as percent_encode
from urllib.parse import urlsplit, urlunsplit

import discord

from bot.answers.models import Source
from bot.answers.untrusted import strip_invisible

__all__ = [
    "CITATION_MARKER",
    "ELLIPSIS",
    "NO_PINGS",
    "URL_MAX",
    "collapse",
    "date_range",
    "dated_credit",
    "escape_markdown",
    "format_day",
    "format_time",
    "link",
    "neutralize_mentions",
    "one_line",
    "outlet_credit",
    "plain_line",
    "safe_markdown",
    "safe_url",
    "source_credit",
    "trim",
]

# The allowed mentions of every message the bot sends: none, whatever the text says.
NO_PINGS = discord.AllowedMentions.none()

ELLIPSIS = "…"
ZWSP = "\u200b"
URL_MAX = 512  # a longer URL is left out (plain title) rather than eat the answer's room

# A citation marker, "[n]".
CITATION_MARKER = re.compile(r"\[(\d+)\]")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# '@everyone'/'@here' ping anywhere in a message; '<@123>', '<@!123>' (user) and '<@&123>'
# (role) are mention syntax. A zero-width space after '@' keeps the text readable and
# breaks the syntax. Case-insensitive and without word boundaries: over-neutralizing
# costs an invisible character, under-neutralizing costs a ping.
_MENTION = re.compile(r"@(?=everyone|here)|<@(?!\u200b)", re.IGNORECASE)

_LINK_TEXT_TABLE = str.maketrans("[]\\`", "()/'")
_HOST = re.compile(r"[\w.-]+|[0-9A-Fa-f:.]+")

# Characters kept as they are in URL paths, queries and fragments. Everything else is
# percent-encoded: spaces, '(' ')' '[' ']' '<' '>' would end a markdown link early, and
# '@' keeps raw mention text out of anything we render.
_URL_SAFE = "!#$%&'*+,-./:;=?_~"


# Markdown Discord acts on anywhere in a line: emphasis, strike-through, spoilers, code,
# escapes, links ("[text](url)"), headings and quotes ('#', '>'), and '<' (mentions,
# timestamps, "<https://...>"). A backslash before any of them shows it as typed.
_INLINE_MARKDOWN = re.compile(r"[\\*_~|`\[\]<>#]")
# ...and at the start of a line only: list markers ("- ", "+ ", "1. ", "2) ").
_LIST_MARKER = re.compile(r"^(\s*\d*)([-+.)])(?=\s)", re.MULTILINE)
# "https://" is linked wherever it stands; an escaped colon stops that.
_URL_SCHEME = re.compile(r"\b([a-z][a-z0-9+.-]*):(?=//)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """`text` as Discord shows it literally: no emphasis, link, heading, list, quote,
    code span, timestamp or auto-linked URL of its own.

    Every markdown character gets a backslash (Discord hides a backslash before any
    punctuation, so the text reads the same), line-start list markers too, and the colon
    of "scheme://", so a URL in an article is shown but not linked.
    """
    text = _INLINE_MARKDOWN.sub(r"\\\g<0>", text)
    text = _LIST_MARKER.sub(r"\1\\\2", text)
    return _URL_SCHEME.sub(r"\1\\:", text)


def safe_markdown(text: str) -> str:
    """Untrusted text (a quote, a written sentence) for a place that renders markdown:
    without invisible characters, escaped, and unable to ping."""
    return neutralize_mentions(escape_markdown(strip_invisible(text)))


def neutralize_mentions(text: str) -> str:
    """`text` with every mention made harmless by a zero-width space after its '@'.

    '@everyone' and '@here' still read the same but cannot ping; '<@123>', '<@!123>' and
    '<@&123>' no longer parse as user or role mentions. Channel links ('<#123>') are
    harmless and left alone. Idempotent. Senders should also pass
    ``allowed_mentions=discord.AllowedMentions.none()``; this is the second safeguard.
    """
    return _MENTION.sub(lambda m: m.group(0) + ZWSP, text)


def format_day(value: date | datetime | None) -> str:
    """ "12 Apr 2024", or "undated"; English month names whatever the locale."""
    if value is None:
        return "undated"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_time(value: datetime) -> str:
    """ "12 Apr 2024 14:05 UTC" for a naive UTC time."""
    return f"{format_day(value)} {value:%H:%M} UTC"


def outlet_credit(outlet: str | None, country: str | None) -> str:
    """ "Reuters (GB)", "Reuters", "GB" or "", on one line."""
    where = collapse(outlet or "")
    country = collapse(country or "")
    if where and country:
        return f"{where} ({country})"
    return where or country


def dated_credit(outlet: str | None, country: str | None, published: date | None) -> str:
    """ "Reuters (GB), 4 Mar 2025"; unknown parts are left out (raw text)."""
    day = format_day(published) if published is not None else ""
    return ", ".join(part for part in (outlet_credit(outlet, country), day) if part)


def source_credit(source: Source) -> str:
    """ "Reuters (GB), 4 Mar 2025"; unknown parts are left out, not guessed (raw text:
    renderers neutralize it)."""
    return dated_credit(source.outlet, source.country, source.published)


def collapse(text: str) -> str:
    """One line: runs of whitespace (newlines too) become one space, and invisible
    formatting characters (bidirectional overrides, zero-width spaces...) go."""
    return " ".join(strip_invisible(text).split())


def trim(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary where one is near,
    ending in '…' when anything was cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    head = text[: limit - 1]
    space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    # Cutting at a far-back space would throw away most of the room; a hard cut is better.
    if space >= (limit - 1) // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """Untrusted text as one neutralized, markdown-escaped line of at most `limit`
    characters (for titles, field names and values, descriptions)."""
    return _trim_escaped(neutralize_mentions(escape_markdown(collapse(text))), limit)


def plain_line(text: str, limit: int) -> str:
    """Untrusted text as one neutralized line of at most `limit` characters, not escaped:
    for places that show markdown as typed (footers, code spans)."""
    return trim(neutralize_mentions(collapse(text)), limit)


def _trim_escaped(text: str, limit: int) -> str:
    """`trim` for escaped text: a cut never leaves a lone escaping backslash at the end."""
    if len(text) <= limit:
        return text
    cut = trim(text, limit)
    return cut[:-1].rstrip("\\") + ELLIPSIS if cut.endswith(ELLIPSIS) else cut


def _link_text(title: str, limit: int) -> str:
    """A title that can stand inside "[...](url)" without ending it early.

    Brackets become parentheses and backslashes slashes (a backslash could escape the
    closing bracket); backticks would open a code span across lines, so they become
    quotes; the rest of the markdown is escaped so two titles cannot format each other
    and a URL in a title is not linked.
    """
    cleaned = escape_markdown(collapse(title).translate(_LINK_TEXT_TABLE))
    return _trim_escaped(neutralize_mentions(cleaned), limit) or "untitled"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL safe to put in "(...)" of a markdown link, or None.

    Credentials are dropped, and characters that would end the link or form a mention
    are percent-encoded (equivalent for any web server).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or not _HOST.fullmatch(host):
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    safe = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            percent_encode(parts.path, safe=_URL_SAFE),
            percent_encode(parts.query, safe=_URL_SAFE),
            percent_encode(parts.fragment, safe=_URL_SAFE),
        )
    )
    return safe if len(safe) <= URL_MAX else None


def link(title: str, url: str | None, title_limit: int) -> str:
    """ "[Title](url)", or the cleaned title alone when there is no usable URL."""
    text = _link_text(title, title_limit)
    safe = safe_url(url)
    return f"[{text}]({safe})" if safe else text


def date_range(first: date | None, last: date | None) -> str | None:
    """A date range written compactly: "3–12 Apr 2024", "3 Jan – 12 Apr 2024"."""
    if first is None and last is None:
        return None
    if last is None:
        return f"since {format_day(first)}"
    if first is None:
        return f"until {format_day(last)}"
    if (first.year, first.month, first.day) == (last.year, last.month, last.day):
        return format_day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {_MONTHS[last.month - 1]} {last.year}"
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} – {format_day(last)}"
    return f"{format_day(first)} – {format_day(last)}"
