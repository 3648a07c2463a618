"""Publication dates, read leniently from metadata fields and from a page's header lines.

:func:`parse_published` reads one date in the many ways sources write them; a header line
that holds nothing but dates ("Posted April. 12, 2024 07:53, updated ...") is recognised by
:func:`read_date_line`, so that the line is dropped from the text and its date kept.
Every result is a naive datetime in UTC.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from index.sources.cleanup import MAX_HEADER_LINE, collapse_whitespace

__all__ = ["datetime_from_timestamp", "naive_utc", "parse_published", "read_date_line"]

_MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = frozenset(
    [
        "monday",
        "mon",
        "tuesday",
        "tue",
        "tues",
        "wednesday",
        "wed",
        "thursday",
        "thu",
        "thur",
        "thurs",
        "friday",
        "fri",
        "saturday",
        "sat",
        "sunday",
        "sun",
    ]
)
# Offsets in minutes. "IST" (India, Israel, Ireland) is left out on purpose: ambiguous.
_TZ_OFFSETS: dict[str, int] = {
    "utc": 0,
    "gmt": 0,
    "z": 0,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
    "bst": 60,
    "cet": 60,
    "cest": 120,
    "eet": 120,
    "eest": 180,
    "msk": 180,
    "kst": 540,
    "jst": 540,
    "hkt": 480,
    "sgt": 480,
    "aest": 600,
    "aedt": 660,
}
# US newsrooms write "ET" for whichever of EST/EDT is in force.
_TZ_ZONES: dict[str, str] = {
    "et": "America/New_York",
    "ct": "America/Chicago",
    "mt": "America/Denver",
    "pt": "America/Los_Angeles",
}
_DATE_FILLERS = frozenset({"at", "on", "the", "of", "t"})
_DATE_WORDS = frozenset(
    {*_MONTHS, *_WEEKDAYS, *_TZ_OFFSETS, *_TZ_ZONES, *_DATE_FILLERS, "am", "pm", "a", "p", "m"}
    | {"st", "nd", "rd", "th"}
)

_MONTH_ALTERNATION = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MDY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_ALTERNATION})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b,?\s*"
    r"(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_DMY_RE = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<mon>{_MONTH_ALTERNATION})\.?,?\s+"
    r"(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_YMD_RE = re.compile(r"\b(?P<year>\d{4})[-/.](?P<mon>\d{1,2})[-/.](?P<day>\d{1,2})\b")
_NUMERIC_DATE_RE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_TIME_RE = re.compile(
    r"(?<![\d:.])(?P<hour>\d{1,2})(?:[:.](?P<minute>[0-5]\d)(?:[:.](?P<second>[0-5]\d))?"
    r"(?:\.\d+)?)?(?!\d)\s*(?:(?P<ampm>[ap])\.?\s?m\b\.?)?",
    re.IGNORECASE,
)
_OFFSET_RE = re.compile(r"(?:\b(?:utc|gmt))?\s*(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})\b", re.I)
_ISO_START_RE = re.compile(r"^\d{4}-?\d{2}-?\d{2}")
_RFC2822_RE = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_DIGIT_RE = re.compile(r"\d")
_YEAR_RE = re.compile(r"(?<!\d)(?:1[89]|2[01])\d{2}(?!\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")
_DATE_LABEL_RE = re.compile(
    r"\b(posted|published|updated|last updated|last modified|modified|first published"
    r"|originally published|date|dated|released|created)(?:\s+on)?\b\s*:?",
    re.IGNORECASE,
)
_UPDATE_LABELS = frozenset({"updated", "last updated", "last modified", "modified"})
_DATEPARSER_SETTINGS: dict[str, object] = {
    "PREFER_DAY_OF_MONTH": "first",
    # Relative dates ("2 hours ago") are skipped: they would be read against today.
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
    "REQUIRE_PARTS": ["month", "year"],
}


def parse_published(value: str) -> datetime | None:
    """Parse a publication date leniently; None when `value` holds no recognisable date.

    Handles ISO 8601 (with or without time and offset), "2023/01/05", RFC 2822, and
    English spellings such as "April. 12, 2024 07:53", "5 January 2023" or
    "3:04 PM EST, Thu January 5, 2023"; anything else with a year in it goes to
    `dateparser`, which is slower but knows other languages. A date with a timezone is
    converted to UTC; every result is naive.
    """
    text = collapse_whitespace(value).strip(" ,;|·•")
    label = _DATE_LABEL_RE.match(text)
    if label is not None:
        text = text[label.end() :].strip(" ,;|·•")
    if not text or len(text) > MAX_HEADER_LINE or not _DIGIT_RE.search(text):
        return None
    for parser in (_parse_iso, _parse_rfc2822, _parse_spelled_out, _parse_with_dateparser):
        moment = parser(text)
        if moment is not None:
            return _plausible(moment)
    return None


def _plausible(moment: datetime) -> datetime | None:
    return moment if 1800 <= moment.year <= 2200 else None


def naive_utc(moment: datetime) -> datetime:
    """`moment` converted to UTC when it has a zone, as a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(UTC).replace(tzinfo=None)


def datetime_from_timestamp(value: float) -> datetime | None:
    """A Unix timestamp in seconds or milliseconds as a naive UTC datetime; None if absurd."""
    # Millisecond timestamps (JavaScript's Date.now()) are common in scraped JSON.
    seconds = value / 1000 if value > 1e11 else value
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return _plausible(naive_utc(moment))


def _parse_iso(text: str) -> datetime | None:
    if not _ISO_START_RE.match(text):
        return None
    try:
        return naive_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> datetime | None:
    if not _RFC2822_RE.match(text):
        return None
    try:
        return naive_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _parse_spelled_out(text: str) -> datetime | None:
    """Dates with a month name or as year/month/day, plus an optional time and zone.

    Whatever is left after taking out the date and time must be weekday names, fillers
    ("at", "on") or a zone, so that a date inside a sentence is not mistaken for a date.
    """
    match = _YMD_RE.search(text) or _MDY_RE.search(text) or _DMY_RE.search(text)
    if match is None:
        return None
    month_text = match.group("mon")
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
    rest = f"{text[: match.start()]} {text[match.end() :]}"
    hour = minute = second = 0
    time_match = _find_time(rest)
    if time_match is not None:
        hour, minute, second = _time_parts(time_match)
        rest = f"{rest[: time_match.start()]} {rest[time_match.end() :]}"
    known, zone = _zone_from_rest(rest)
    if not known:
        return None
    try:
        moment = datetime(
            int(match.group("year")), month, int(match.group("day")), hour, minute, second
        )
    except ValueError:
        return None
    if zone is None:
        return moment
    return naive_utc(moment.replace(tzinfo=zone))


def _find_time(text: str) -> re.Match[str] | None:
    for match in _TIME_RE.finditer(text):
        # A bare number is only a time with "am"/"pm" ("3 pm"); otherwise it needs minutes.
        if match.group("minute") is not None or match.group("ampm") is not None:
            return match
    return None


def _time_parts(match: re.Match[str]) -> tuple[int, int, int]:
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    second = int(match.group("second") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm == "p" and hour < 12:
        hour += 12
    elif ampm == "a" and hour == 12:
        hour = 0
    return (hour, minute, second) if hour < 24 else (0, 0, 0)


def _zone_from_rest(rest: str) -> tuple[bool, tzinfo | None]:
    """The zone named in what is left of a date string.

    The flag is False when anything but a zone, weekday names and fillers is left.
    """
    zone: tzinfo | None = None
    offset = _OFFSET_RE.search(rest)
    if offset is not None:
        minutes = int(offset.group("hh")) * 60 + int(offset.group("mm"))
        sign = -1 if offset.group("sign") == "-" else 1
        zone = timezone(timedelta(minutes=sign * minutes))
        rest = f"{rest[: offset.start()]} {rest[offset.end() :]}"
    if _DIGIT_RE.search(rest):
        return False, None
    for word in _WORD_RE.findall(rest):
        key = word.lower()
        if key in _TZ_OFFSETS:
            zone = zone or timezone(timedelta(minutes=_TZ_OFFSETS[key]))
        elif key in _TZ_ZONES:
            zone = zone or _named_zone(_TZ_ZONES[key])
        elif key not in _WEEKDAYS and key not in _DATE_FILLERS:
            return False, None
    return True, zone


def _named_zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def _parse_with_dateparser(text: str) -> datetime | None:
    # Without a year, dateparser fills in the current one: a guess, not a date.
    if not _YEAR_RE.search(text):
        return None
    import dateparser  # slow to import and to call, so only reached as a last resort

    try:
        moment = dateparser.parse(text, settings=_DATEPARSER_SETTINGS)
    except Exception:  # a third-party fallback must never abort an ingest
        return None
    return naive_utc(moment) if isinstance(moment, datetime) else None


def read_date_line(text: str) -> list[tuple[str, datetime]] | None:
    """Read a header line that holds only dates, such as "Posted April. 12, 2024 07:53,".

    Returns ``(kind, datetime)`` pairs, kind being "published" or "updated", or None when
    the line holds anything besides labels and dates.
    """
    if len(text) > MAX_HEADER_LINE or not _DIGIT_RE.search(text):
        return None
    parts = _DATE_LABEL_RE.split(text)
    segments = [("published", parts[0])]
    segments += [
        (
            "updated" if collapse_whitespace(label).lower() in _UPDATE_LABELS else "published",
            segment,
        )
        for label, segment in zip(parts[1::2], parts[2::2], strict=True)
    ]
    found: list[tuple[str, datetime]] = []
    for kind, segment in segments:
        segment = segment.strip(" ,;|·•-–—()")
        if not segment:
            continue
        moment = parse_published(segment) if _looks_like_date(segment) else None
        if moment is None:
            return None
        found.append((kind, moment))
    return found or None


def _looks_like_date(text: str) -> bool:
    words = [word.lower() for word in _WORD_RE.findall(text)]
    if not all(word in _DATE_WORDS for word in words):
        return False
    return any(word in _MONTHS for word in words) or bool(_NUMERIC_DATE_RE.search(text))
