"""Turn the time expressions in a question into a date window relative to ``as_of``.

The answer service uses the window to *prefer* sources published inside it (it is not a
hard filter) and shows :meth:`TimeWindow.describe` in the answer's footer, so the parser
favours predictable, explainable results over cleverness.

Rules (weeks start on Monday; month and year windows are calendar ones):

* Relative periods: ``today``, ``yesterday``, ``this week|month|year`` (start of the period
  up to ``as_of``; also ``so far this …``, ``earlier this …``, ``year to date``),
  ``last|previous week|month|year`` (the whole previous calendar period), ``last Monday`` /
  ``on Monday`` (the most recent such weekday).
* Rolling spans, counted inclusively so that the span ends on ``as_of`` and holds N units:
  ``past week`` and ``the past 7 days`` are ``as_of - 6 .. as_of``; ``past 3 months`` is
  ``as_of - 3 months + 1 day .. as_of``. Bare ``last week`` is the calendar week, but
  ``the last week`` / ``this past week`` / ``last 7 days`` are rolling. Hours round up to
  whole days (``past 24 hours`` is ``as_of - 1 .. as_of``). ``recent days|weeks|months`` are
  7 days, 4 weeks and 3 months.
* Explicit dates: ``2023-01-05``, ``5 Jan 2023``, ``January 5, 2023``, ``April 2024``,
  ``Apr. 2024``, ``Q1 2024``, ``mid-2023``, ``the 1990s``. A bare year (``2023``) and the
  year-less forms (``April``, ``5 March``, ``March 5``, ``Monday``) only count after a
  preposition (in/during/on/of/throughout/since/from/after/following/before/prior to/
  until/till/by/through/up to/as of), so the adjective in "the 2018 FIFA World Cup" is not
  a filter while "the World Cup in 2018" is. A year followed by a counted noun ("2023
  people", "2023 %") is a number, not a year. A year-less month or day is the most recent
  one on or before ``as_of``.
* Prepositions: in/during/on/of/throughout give the period itself; since/from give
  ``start ..``; after/following give ``end + 1 ..``; before/prior to give ``.. start - 1``;
  until/till/by/through/up to/as of give ``.. end``. ``since the start of X`` and ``by the
  end of X`` narrow X to its first or last day. Ranges: ``between March and May 2024``,
  ``from 1 March to 15 March 2024`` (a year-less first end takes the second end's year).
* Windows from relative expressions never extend beyond ``as_of``; explicit dates may lie
  in the future ("in December 2030").
* Event anchors such as "since the summit", "after the election", "since the war began",
  "after Brexit", "since then" cannot be dated here: they are reported in
  ``unresolved`` and produce no window.
* When several expressions appear, the first one in the question (leftmost; the longest
  of those starting at the same place) that resolves to dates wins; later ones are
  ignored. Overlapping matches are never combined.
* Phrases that only mean "up to now" ("as of today", "until now", "to date", "after
  today") give no window, so the "today" inside them is not read as a one-day window.
* ``prefer_recent`` is set by recency words (latest, current, currently, now, most recent,
  recent, recently, lately, newest, nowadays, these days, as of today, so far, to date,
  at present, at the moment, up to date) anywhere in the question, as whole words.

``stripped_question`` is the question without the resolved expression (whitespace and
stray punctuation tidied), or the untouched original when no window was found. Only the
first 4,000 characters (Discord's longest message) are searched.

Everything is done with precompiled regular expressions (tens of microseconds for a
typical question); ``dateparser`` was not needed, as its strength (free-form and
multilingual dates) would mostly add false positives on ordinary question words.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

__all__ = ["TimeIntent", "TimeWindow", "parse_time_intent"]

_MONTH_ABBR: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


@dataclass(frozen=True)
class TimeWindow:
    """An inclusive date window; a missing bound is open-ended."""

    since: date | None
    until: date | None
    expression: str

    def __post_init__(self) -> None:
        # An inverted window would silently match nothing, which is never what a caller means.
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"since {self.since} is after until {self.until}")

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls inside the window (bounds included)."""
        if self.since is not None and day < self.since:
            return False
        return not (self.until is not None and day > self.until)

    def describe(self) -> str:
        """Short human text for an answer footer, e.g. ``"1–7 Apr 2024"``."""
        since, until = self.since, self.until
        if since is None and until is None:
            return "any time"
        if until is None:
            assert since is not None  # narrowed above; keeps mypy happy without a cast
            return f"since {_fmt_day(since)}"
        if since is None:
            return f"until {_fmt_day(until)}"
        if since == until:
            return _fmt_day(since)
        if (since.year, since.month) == (until.year, until.month):
            return f"{since.day}–{until.day} {_MONTH_ABBR[until.month - 1]} {until.year}"
        if since.year == until.year:
            return f"{since.day} {_MONTH_ABBR[since.month - 1]} – {_fmt_day(until)}"
        return f"{_fmt_day(since)} – {_fmt_day(until)}"


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time."""

    window: TimeWindow | None
    prefer_recent: bool
    unresolved: tuple[str, ...]
    stripped_question: str


def _fmt_day(day: date) -> str:
    return f"{day.day} {_MONTH_ABBR[day.month - 1]} {day.year}"


# ---------------------------------------------------------------------------------------
# Regular expressions
# ---------------------------------------------------------------------------------------

_MONTH_NUMBERS: Final[dict[str, int]] = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The trailing look-ahead keeps "Mar-a-Lago", "Marchers" or "Jan's" from reading as months.
_MON: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![\w'’-])"
)
# ASCII digits only: int() would happily read Arabic-Indic or full-width digits as dates.
_DAY: Final = r"(?:0?[1-9]|[12][0-9]|3[01])(?!\d)"
_ORD: Final = r"(?:st|nd|rd|th)?"
# Only 1900–2100, and not part of a longer number, decimal, range ("2022-23") or unit ("2023%").
_YEAR: Final = r"(?:19[0-9]{2}|20[0-9]{2}|2100)(?![\w%]|[-–/.,:]\d)"
_WEEKDAY: Final = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
_PART: Final = r"early|mid|late"

# Forms that stand on their own: they cannot be mistaken for anything but a time.
# "§" is replaced by a tag so that one pattern can hold two periods (a range).
_FULL_FORMS: Final = (
    r"(?P<isoY§>[0-9]{4})(?P<isoS§>[-/.])(?P<isoM§>[0-9]{1,2})(?P=isoS§)(?P<isoD§>[0-9]{1,2})(?!\d)",
    rf"(?:the\s+)?(?P<dmyD§>{_DAY}){_ORD}(?:\s+of)?\s+(?P<dmyM§>{_MON})\.?,?\s+(?P<dmyY§>{_YEAR})",
    rf"(?P<mdyM§>{_MON})\.?\s+(?P<mdyD§>{_DAY}){_ORD},?\s+(?P<mdyY§>{_YEAR})",
    rf"(?:(?P<myP§>{_PART})(?:-|\s+))?(?P<myM§>{_MON})\.?,?\s+(?:of\s+)?(?P<myY§>{_YEAR})",
    rf"q(?P<qQ§>[1-4])\s*,?\s*(?P<qY§>{_YEAR})",
    r"(?:the\s+)?(?P<decY§>(?:19|20)[0-9]0)['’]?s\b",
    rf"(?P<pyP§>{_PART})(?:-|\s+)(?P<pyY§>{_YEAR})",
    r"(?P<rel§>today|yesterday|(?:(?:so\s+far|earlier)\s+)?this\s+(?:week|month|year)"
    r"|(?:last|(?:the\s+)?previous)\s+(?:week|month|year)(?!\s+of\b)"
    r"|year[-\s]to[-\s]date)\b",
    rf"last\s+(?P<lwd§>{_WEEKDAY})",
    # "the 5th of May": the article and the ordinal make it a date even without a year.
    rf"the\s+(?P<tdD§>{_DAY})(?:st|nd|rd|th)\s+of\s+(?P<tdM§>{_MON})\.?",
)
# Forms that need a preposition in front: a bare "2023", "May" or "Monday" is too often
# a number, a verb, a name or an adjective ("the 2018 FIFA World Cup").
_PREP_ONLY_FORMS: Final = (
    rf"(?P<yY§>{_YEAR})",
    rf"(?:the\s+)?(?P<dmD§>{_DAY}){_ORD}(?:\s+of)?\s+(?P<dmM§>{_MON})\.?",
    rf"(?P<mdM§>{_MON})\.?\s+(?P<mdD§>{_DAY}){_ORD}",
    rf"(?:(?P<mP§>{_PART})(?:-|\s+))?(?P<mM§>{_MON})\.?",
    rf"(?P<wd§>{_WEEKDAY})",
)

# Not preceded by a word character, an apostrophe, a hyphen, a currency sign or a slash (so
# "x-2023", "$2023" or "1/2023" do not start a match); "\b" alone would accept "-since", but
# as a cheap first test it lets the engine skip spaces and punctuation quickly.
_LEFT: Final = r"\b(?<![\w'’$£€¥#@/.-])"


def _period(tag: str, *, bare: bool) -> str:
    forms = _FULL_FORMS if bare else _FULL_FORMS + _PREP_ONLY_FORMS
    return "(?:" + "|".join(f.replace("§", tag) for f in forms) + ")"


_PREP_KIND: Final[dict[str, str]] = {
    "in": "in",
    "during": "in",
    "on": "in",
    "of": "in",
    "throughout": "in",
    "since": "since",
    "from": "since",
    "after": "after",
    "following": "after",
    "before": "before",
    "prior to": "before",
    "until": "until",
    "till": "until",
    "by": "until",
    "through": "until",
    "thru": "until",
    "up to": "until",
    "as of": "until",
}
_PREPS: Final = (
    r"since|from|after|following|before|prior\s+to|until|till|by|through|thru|up\s+to"
    r"|as\s+of(?!\s+(?:today|now)\b)|in|during|on|of|throughout"
)

_FLAGS: Final = re.IGNORECASE
_BARE_RE: Final = re.compile(_LEFT + _period("b", bare=True), _FLAGS)
_PREP_RE: Final = re.compile(
    rf"{_LEFT}(?P<prep>{_PREPS})\s+(?:the\s+(?P<anchor>start|beginning|end)\s+of\s+)?"
    + _period("p", bare=False),
    _FLAGS,
)
_RANGE_CONNECTORS: Final = r"and|to|until|till|through|thru|-|–|—"
# A range ("between March and May 2024") needs both words; most questions have neither, and
# the full pattern takes ~0.1 s to compile, so a cold `geobot ask` compiles it only when
# the question may hold a range.
_RANGE_HINT_RE: Final = re.compile(
    rf"\b(?:between|from)\b.*?(?:\b(?:{_RANGE_CONNECTORS})\b|[-–—])", _FLAGS | re.DOTALL
)


@functools.cache
def _range_re() -> re.Pattern[str]:
    return re.compile(
        rf"{_LEFT}(?:between|from)\s+{_period('a', bare=False)}"
        rf"\s+(?:{_RANGE_CONNECTORS})\s+{_period('z', bare=False)}",
        _FLAGS,
    )


_ROLLING_RE: Final = re.compile(
    rf"{_LEFT}(?:(?:in|over|during|for|within|from)\s+)?(?:(?P<det>the|this)\s+)?"
    r"(?P<kw>past|last|previous|recent)\s+"
    r"(?:(?P<n>[0-9]{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|few|couple(?:\s+of)?)\s+)?"
    r"(?P<unit>hours?|days?|weeks?|fortnights?|months?|years?|decades?)\b",
    _FLAGS,
)
_OF_AFTER_RE: Final = re.compile(r"\s+of\b", _FLAGS)
# Phrases that only say "up to now": they must not turn the "today" inside into a window.
_NOOP_RE: Final = re.compile(
    rf"{_LEFT}(?:(?:as\s+of|up\s+to|until|till)\s+(?:today|now)|to\s+date)\b", _FLAGS
)
_EVENT_PREP_RE: Final = re.compile(
    rf"{_LEFT}(?P<prep>since|after|following|before|prior\s+to|ahead\s+of|until|till)\s+",
    _FLAGS,
)
_SINCE_THEN_RE: Final = re.compile(rf"{_LEFT}since\s+then\b", _FLAGS)
# One word of an event phrase: an acronym with dots ("U.S."), a word, or a year ("2022").
_EVENT_TOKEN_RE: Final = re.compile(
    r"[ \t]*((?:[^\W\d_]\.){2,}|[^\W\d_][\w'’-]*|(?:19|20)[0-9]{2}(?!\w))"
)
_COUNTED_RE: Final = re.compile(
    r"\s*(?:%|per\s*cent\b|percent\b)|\s+(?:people|persons|soldiers|troops|civilians|deaths"
    r"|dead|casualties|refugees|migrants|children|women|men|fighters|votes|voters|seats"
    r"|cases|km|kilomet(?:re|er)s|miles|tons|tonnes|barrels|dollars|euros|pounds|units"
    r"|times|members|delegates|households|families|homes|houses|buildings|rockets"
    r"|missiles|drones|tanks|shells|prisoners|hostages|workers|jobs|million|billion"
    r"|thousand|hundred)\b",
    _FLAGS,
)
_RECENT_RE: Final = re.compile(
    r"\b(?:latest|current|currently|now|nowadays|most\s+recent|recent|recently|lately"
    r"|newest|as\s+of\s+today|so\s+far|these\s+days|at\s+present|at\s+the\s+moment"
    r"|up[-\s]to[-\s]date|to\s+date)\b",
    _FLAGS,
)

_NUMBER_WORDS: Final[dict[str, int]] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "few": 3,
    "couple": 2,
}


def _words(text: str) -> frozenset[str]:
    """A word set written as one string, to keep long vocabularies readable."""
    return frozenset(text.split())


_DETERMINERS: Final = _words("the a an his her their its our my your this that these those")
_TIME_WORD_RE: Final = re.compile(rf"{_MON}\.?|{_WEEKDAY}", _FLAGS)
# Words that end an event phrase: prepositions, conjunctions, question words, auxiliaries
# and time words (so "since the summit last week" leaves "last week" to be resolved).
_TIME_UNIT_RE: Final = re.compile(r"(?:day|week|weekend|month|year|decade)(?:s|['’]s)?", _FLAGS)
_EVENT_STOP: Final = _words(
    """in on at during for with to into from by and or but nor so yet how what when where
    which who whom whose why whether is are was were be been being am has have had do does
    did will would shall should can could may might must than then there as if because
    while since after following before until till last this next past today yesterday
    tonight now currently recently lately ago"""
)
_EVENT_TRAILING: Final = _words("of the a an")
_NOT_EVENT_START: Final = _words("i we you they he she it")
_MAX_EVENT_WORDS: Final = 6
_MAX_SCAN: Final = 4000  # characters; Discord's longest message


# ---------------------------------------------------------------------------------------
# Date arithmetic
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    start: date
    end: date
    # Resolved against as_of (relative phrases, year-less dates): such windows are kept
    # on or before as_of.
    relative: bool
    # Had no year of its own (a range's first end borrows the second end's year).
    yearless: bool = False


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month0 = divmod(index, 12)
    # Clamped to the month's length (31 March - 1 month = 29 February); a year outside
    # date's range raises ValueError, which the caller reads as "no match".
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def _month_part(year: int, month: int, part: str | None) -> tuple[date, date]:
    first, last = _month_bounds(year, month)
    if part == "early":
        return first, first.replace(day=10)
    if part == "mid":
        return first.replace(day=11), first.replace(day=20)
    if part == "late":
        return first.replace(day=21), last
    return first, last


def _year_part(year: int, part: str | None) -> tuple[date, date]:
    # Thirds of a year: a deliberately coarse reading of "early/mid/late 2023".
    months = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}.get(part or "", (1, 12))
    return date(year, months[0], 1), _month_bounds(year, months[1])[1]


def _month_number(text: str) -> int:
    return _MONTH_NUMBERS[text[:3].lower()]


def _yearless(
    build: Callable[[int], tuple[date, date]], as_of: date, year_hint: int | None
) -> _Period | None:
    if year_hint is not None:
        start, end = build(year_hint)
        return _Period(start, end, relative=False, yearless=True)
    # The most recent occurrence on or before as_of; nine years back always reaches a
    # 29 February.
    for back in range(9):
        try:
            start, end = build(as_of.year - back)
        except ValueError:
            continue
        if start <= as_of:
            return _Period(start, min(end, as_of), relative=True, yearless=True)
    return None


def _relative(phrase: str, as_of: date) -> tuple[date, date]:
    words = phrase.lower().replace("-", " ").split()
    if words == ["today"]:
        return as_of, as_of
    if words == ["yesterday"]:
        day = as_of - timedelta(days=1)
        return day, day
    if words[-1] == "date":  # year to date
        return date(as_of.year, 1, 1), as_of
    unit = words[-1]
    current = "this" in words
    if unit == "week":
        monday = as_of - timedelta(days=as_of.weekday())
        if current:
            return monday, as_of
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if unit == "month":
        if current:
            return as_of.replace(day=1), as_of
        previous_end = as_of.replace(day=1) - timedelta(days=1)
        return previous_end.replace(day=1), previous_end
    if current:
        return date(as_of.year, 1, 1), as_of
    return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)


def _weekday(name: str, as_of: date, *, strictly_before: bool) -> tuple[date, date]:
    back = (as_of.weekday() - _WEEKDAYS.index(name[:3].lower())) % 7
    if strictly_before and back == 0:
        back = 7
    day = as_of - timedelta(days=back)
    return day, day


def _resolve_period(
    m: re.Match[str], tag: str, as_of: date, year_hint: int | None = None
) -> _Period | None:
    """The period matched by the ``tag`` alternatives of ``m``, or None if not a real date."""

    # The bare pattern lacks the preposition-only groups, hence a dict lookup, not m.group.
    groups = m.groupdict()

    def text(name: str) -> str:
        return groups.get(name + tag) or ""

    def has(name: str) -> bool:
        return groups.get(name + tag) is not None

    if has("isoY"):
        year = int(text("isoY"))
        if not 1900 <= year <= 2100:
            return None
        day = date(year, int(text("isoM")), int(text("isoD")))
        return _Period(day, day, relative=False)
    if has("dmyY"):
        day = date(int(text("dmyY")), _month_number(text("dmyM")), int(text("dmyD")))
        return _Period(day, day, relative=False)
    if has("mdyY"):
        day = date(int(text("mdyY")), _month_number(text("mdyM")), int(text("mdyD")))
        return _Period(day, day, relative=False)
    if has("myY"):
        start, end = _month_part(
            int(text("myY")), _month_number(text("myM")), text("myP").lower() or None
        )
        return _Period(start, end, relative=False)
    if has("qY"):
        year, quarter = int(text("qY")), int(text("qQ"))
        return _Period(
            date(year, 3 * quarter - 2, 1),
            _month_bounds(year, 3 * quarter)[1],
            relative=False,
        )
    if has("decY"):
        decade = int(text("decY"))
        return _Period(date(decade, 1, 1), date(decade + 9, 12, 31), relative=False)
    if has("pyY"):
        start, end = _year_part(int(text("pyY")), text("pyP").lower())
        return _Period(start, end, relative=False)
    if has("rel"):
        start, end = _relative(text("rel"), as_of)
        return _Period(start, end, relative=True)
    if has("lwd"):
        start, end = _weekday(text("lwd"), as_of, strictly_before=True)
        return _Period(start, end, relative=True)
    if has("yY"):
        if _COUNTED_RE.match(m.string, m.end("yY" + tag)):
            return None  # "in 2023 people": a count, not a year
        year = int(text("yY"))
        return _Period(date(year, 1, 1), date(year, 12, 31), relative=False)
    if has("dmD") or has("tdD"):
        month = _month_number(text("dmM") or text("tdM"))
        dom = int(text("dmD") or text("tdD"))
        return _yearless(lambda y: (date(y, month, dom),) * 2, as_of, year_hint)
    if has("mdD"):
        month, dom = _month_number(text("mdM")), int(text("mdD"))
        return _yearless(lambda y: (date(y, month, dom),) * 2, as_of, year_hint)
    if has("mM"):
        month, part = _month_number(text("mM")), text("mP").lower() or None
        return _yearless(lambda y: _month_part(y, month, part), as_of, year_hint)
    if has("wd"):
        start, end = _weekday(text("wd"), as_of, strictly_before=False)
        return _Period(start, end, relative=True)
    return None


def _rolling(m: re.Match[str], as_of: date) -> tuple[date, date] | None:
    kw, unit = m.group("kw").lower(), m.group("unit").lower().rstrip("s")
    det = (m.group("det") or "").lower()
    raw_n = (m.group("n") or "").lower()
    plural = m.group("unit").lower().endswith("s")
    if kw == "recent":
        # "recent days/weeks/months": a conventional reading of a vague phrase.
        spans = {"day": (0, 7), "week": (0, 28), "month": (3, 0)}
        if raw_n or not plural or unit not in spans:
            return None
        months, days = spans[unit]
        since = _shift_months(as_of, -months) + timedelta(days=1) if months else as_of
        return since - timedelta(days=max(days - 1, 0)), as_of
    if not raw_n:
        if plural:
            return None  # "past years" has no size
        if _OF_AFTER_RE.match(m.string, m.end()):
            return None  # "the last week of March" is not a rolling span
        # Bare "last week" is the calendar week (see _relative); "the last week" and
        # "this past week" are rolling, as is "past week" with or without "the".
        if kw != "past" and not (kw == "last" and det):
            return None
        count = 1
    else:
        count = int(raw_n) if raw_n.isdigit() else _NUMBER_WORDS[raw_n.split()[0]]
    if count <= 0:
        return None
    if unit == "hour":
        return as_of - timedelta(days=-(-count // 24)), as_of
    days_per_unit = {"day": 1, "week": 7, "fortnight": 14}
    if unit in days_per_unit:
        return as_of - timedelta(days=count * days_per_unit[unit] - 1), as_of
    months = count * {"month": 1, "year": 12, "decade": 120}[unit]
    return _shift_months(as_of, -months) + timedelta(days=1), as_of


# ---------------------------------------------------------------------------------------
# Candidates and selection
# ---------------------------------------------------------------------------------------

_Kind = Literal["noop", "window", "unresolved"]
# At the same start and length, a "nothing to filter" phrase beats a window ("until today"),
# which beats an event reading ("since this week" is a date, not an event).
_PRIORITY: Final[dict[_Kind, int]] = {"noop": 0, "window": 1, "unresolved": 2}


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    kind: _Kind
    since: date | None = None
    until: date | None = None


def _window_from_prep(prep: str, anchor: str | None, period: _Period, as_of: date) -> _Candidate:
    """Bounds for ``prep period``; raises ValueError for an anchor on a window preposition
    ("in the end of 2023" reads as an idiom, not a date)."""
    kind = _PREP_KIND[" ".join(prep.lower().split())]
    start, end = period.start, period.end
    if anchor:
        if kind == "in":
            raise ValueError("'in the start of' is not a usable window")
        start = end = start if anchor.lower() in ("start", "beginning") else end
    since: date | None
    until: date | None
    if kind == "in":
        since, until = start, end
    elif kind == "since":
        since, until = start, None
    elif kind == "after":
        since, until = end + timedelta(days=1), None
    elif kind == "before":
        since, until = None, start - timedelta(days=1)
    else:
        since, until = None, end
    if period.relative and since is not None and since > as_of:
        # "after today": nothing to prefer, and the "today" inside must not become a window.
        return _Candidate(0, 0, "noop")
    return _Candidate(0, 0, "window", since, until)


def _event_end(text: str, pos: int) -> int | None:
    """End of an event phrase ("the summit", "Russia's invasion") starting at ``pos``."""
    words: list[tuple[str, int]] = []
    while len(words) < _MAX_EVENT_WORDS:
        token = _EVENT_TOKEN_RE.match(text, pos)
        if token is None:
            break  # punctuation or the end of the text closes the phrase
        word = token.group(1)
        lower = word.lower()
        if not words:
            # Without a determiner only a proper noun starts an event ("after Brexit"); a
            # month or weekday there is a date, left to the date patterns.
            capitalised = word[0].isupper() and lower not in _NOT_EVENT_START
            if lower not in _DETERMINERS and (
                not capitalised or lower in _EVENT_STOP or _TIME_WORD_RE.fullmatch(word)
            ):
                return None
        elif lower in _EVENT_STOP:
            break
        words.append((lower, token.end(1)))
        pos = token.end(1)
    while words and words[-1][0] in _EVENT_TRAILING:
        words.pop()
    content = [w for w, _ in words if w not in _DETERMINERS]
    if not content or _TIME_UNIT_RE.fullmatch(content[0]):
        # "since this week's summit" is better read as "since this week" than as an event.
        return None
    return words[-1][1]


def _candidates(text: str, as_of: date) -> list[_Candidate]:
    found: list[_Candidate] = []

    def add(start: int, end: int, make: Callable[[], _Candidate | None]) -> None:
        # Impossible dates (31 April, year 0 after arithmetic) just mean "no match here".
        try:
            candidate = make()
        except (ValueError, OverflowError, KeyError):
            return
        if candidate is not None:
            found.append(_Candidate(start, end, candidate.kind, candidate.since, candidate.until))

    for m in _NOOP_RE.finditer(text):
        add(m.start(), m.end(), lambda: _Candidate(0, 0, "noop"))

    for m in _BARE_RE.finditer(text):

        def bare(m: re.Match[str] = m) -> _Candidate | None:
            period = _resolve_period(m, "b", as_of)
            return None if period is None else _window_from_prep("in", None, period, as_of)

        add(m.start(), m.end(), bare)

    for m in _PREP_RE.finditer(text):

        def prep(m: re.Match[str] = m) -> _Candidate | None:
            period = _resolve_period(m, "p", as_of)
            if period is None:
                return None
            return _window_from_prep(m.group("prep"), m.group("anchor"), period, as_of)

        add(m.start(), m.end(), prep)

    ranges = _range_re().finditer(text) if _RANGE_HINT_RE.search(text) else ()
    for m in ranges:

        def between(m: re.Match[str] = m) -> _Candidate | None:
            last = _resolve_period(m, "z", as_of)
            if last is None:
                return None
            first = _resolve_period(m, "a", as_of, last.start.year)
            if first is not None and first.yearless and first.start > last.end:
                # "between November and February 2024": November of the year before.
                first = _resolve_period(m, "a", as_of, last.start.year - 1)
            if first is None or first.start > last.end:
                return None
            until = min(last.end, as_of) if last.relative else last.end
            return _Candidate(0, 0, "window", first.start, until)

        add(m.start(), m.end(), between)

    for m in _ROLLING_RE.finditer(text):

        def rolling(m: re.Match[str] = m) -> _Candidate | None:
            span = _rolling(m, as_of)
            return None if span is None else _Candidate(0, 0, "window", *span)

        add(m.start(), m.end(), rolling)

    for m in _SINCE_THEN_RE.finditer(text):
        add(m.start(), m.end(), lambda: _Candidate(0, 0, "unresolved"))

    for m in _EVENT_PREP_RE.finditer(text):
        end = _event_end(text, m.end())
        if end is not None:
            found.append(_Candidate(m.start(), end, "unresolved"))

    return found


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    # A possessive left behind by "yesterday's vote" would only add noise to keyword search.
    text = re.sub(r"(?:^|(?<=\s))['’]s\b", "", text)
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r",(?=[,.;:?!])", "", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;:")


def _parse(question: str, as_of: date) -> TimeIntent:
    # Only the start of a very long text is searched: it bounds the worst case (a pasted
    # article) to a few milliseconds, and a question states its time frame early.
    scanned = question[:_MAX_SCAN]
    candidates = _candidates(scanned, as_of)
    # Leftmost first, then longest, then by kind: a greedy pass keeps non-overlapping ones.
    candidates.sort(key=lambda c: (c.start, c.start - c.end, _PRIORITY[c.kind]))
    chosen: _Candidate | None = None
    unresolved: list[str] = []
    taken_until = -1
    for candidate in candidates:
        if candidate.start < taken_until:
            continue
        taken_until = candidate.end
        if candidate.kind == "window" and chosen is None:
            chosen = candidate
        elif candidate.kind == "unresolved":
            phrase = " ".join(question[candidate.start : candidate.end].split())
            if phrase not in unresolved:
                unresolved.append(phrase)

    window: TimeWindow | None = None
    stripped = question
    if chosen is not None:
        expression = " ".join(question[chosen.start : chosen.end].split())
        window = TimeWindow(chosen.since, chosen.until, expression)
        stripped = _tidy(question[: chosen.start] + " " + question[chosen.end :])
    return TimeIntent(
        window=window,
        prefer_recent=_RECENT_RE.search(scanned) is not None,
        unresolved=tuple(unresolved),
        stripped_question=stripped,
    )


def parse_time_intent(question: str, as_of: date) -> TimeIntent:
    """Read the time window and recency wish of ``question``, relative to ``as_of``.

    Never raises: a question the parser cannot make sense of gets an empty intent, since a
    time filter is an optional refinement and must never stop a question being answered.
    """
    if not isinstance(question, str):
        return TimeIntent(None, False, (), "")
    try:
        return _parse(question, as_of)
    except Exception:  # a bug here must not break answering; fall back to no time intent
        return TimeIntent(None, False, (), question)
