"""Tests for bot.answers.timewindow: time expressions in questions -> date windows."""

from __future__ import annotations

import dataclasses
import random
import string
from datetime import date, timedelta

import pytest

from bot.answers import timewindow
from bot.answers.timewindow import TimeIntent, TimeWindow, parse_time_intent

AS_OF = date(2024, 4, 17)  # a Wednesday
D = date


def window_of(question: str, as_of: date = AS_OF) -> tuple[date | None, date | None] | None:
    window = parse_time_intent(question, as_of).window
    return None if window is None else (window.since, window.until)


# --------------------------------------------------------------------------------------
# Relative expressions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "as_of", "since", "until"),
    [
        ("What happened today?", AS_OF, D(2024, 4, 17), D(2024, 4, 17)),
        ("What did he say yesterday?", AS_OF, D(2024, 4, 16), D(2024, 4, 16)),
        ("What happened yesterday?", D(2024, 3, 1), D(2024, 2, 29), D(2024, 2, 29)),
        ("News this week", AS_OF, D(2024, 4, 15), D(2024, 4, 17)),
        ("News this week", D(2024, 4, 15), D(2024, 4, 15), D(2024, 4, 15)),  # a Monday
        ("News this week", D(2024, 4, 21), D(2024, 4, 15), D(2024, 4, 21)),  # a Sunday
        ("earlier this week", AS_OF, D(2024, 4, 15), D(2024, 4, 17)),
        ("last week", AS_OF, D(2024, 4, 8), D(2024, 4, 14)),
        ("the previous week", AS_OF, D(2024, 4, 8), D(2024, 4, 14)),
        ("last week", D(2024, 1, 3), D(2023, 12, 25), D(2023, 12, 31)),
        ("past week", AS_OF, D(2024, 4, 11), D(2024, 4, 17)),
        ("over the past week", AS_OF, D(2024, 4, 11), D(2024, 4, 17)),
        ("this past week", AS_OF, D(2024, 4, 11), D(2024, 4, 17)),
        ("in the last week", AS_OF, D(2024, 4, 11), D(2024, 4, 17)),
        ("the past 7 days", AS_OF, D(2024, 4, 11), D(2024, 4, 17)),
        ("this month", AS_OF, D(2024, 4, 1), D(2024, 4, 17)),
        ("last month", AS_OF, D(2024, 3, 1), D(2024, 3, 31)),
        ("last month", D(2024, 3, 10), D(2024, 2, 1), D(2024, 2, 29)),  # leap year
        ("last month", D(2023, 3, 10), D(2023, 2, 1), D(2023, 2, 28)),
        ("last month", D(2024, 1, 15), D(2023, 12, 1), D(2023, 12, 31)),
        ("the previous month", AS_OF, D(2024, 3, 1), D(2024, 3, 31)),
        ("this year", AS_OF, D(2024, 1, 1), D(2024, 4, 17)),
        ("so far this year", AS_OF, D(2024, 1, 1), D(2024, 4, 17)),
        ("year-to-date inflation", AS_OF, D(2024, 1, 1), D(2024, 4, 17)),
        ("last year", AS_OF, D(2023, 1, 1), D(2023, 12, 31)),
        ("What happened on Monday?", AS_OF, D(2024, 4, 15), D(2024, 4, 15)),
        ("What happened on Wednesday?", AS_OF, D(2024, 4, 17), D(2024, 4, 17)),
        ("last Wednesday", AS_OF, D(2024, 4, 10), D(2024, 4, 10)),
        ("last Friday", AS_OF, D(2024, 4, 12), D(2024, 4, 12)),
    ],
)
def test_relative_periods(question: str, as_of: date, since: date, until: date) -> None:
    assert window_of(question, as_of) == (since, until)


@pytest.mark.parametrize(
    ("question", "since"),
    [
        # Rolling spans hold N units and end on as_of (so "past 7 days" is as_of-6..as_of).
        ("past 3 days", D(2024, 4, 15)),
        ("last 7 days", D(2024, 4, 11)),
        ("the last 10 days", D(2024, 4, 8)),
        ("in the past two weeks", D(2024, 4, 4)),
        ("over the last three months", D(2024, 1, 18)),
        ("past 1 month", D(2024, 3, 18)),
        ("past month", D(2024, 3, 18)),
        ("the past year", D(2023, 4, 18)),
        ("the past 2 years", D(2022, 4, 18)),
        ("during the past twelve months", D(2023, 4, 18)),
        ("the last few days", D(2024, 4, 15)),
        ("the past couple of weeks", D(2024, 4, 4)),
        ("over the past decade", D(2014, 4, 18)),
        ("the past fortnight", D(2024, 4, 4)),
        ("the past 24 hours", D(2024, 4, 16)),
        ("the past 48 hours", D(2024, 4, 15)),
        ("in recent days", D(2024, 4, 11)),
        ("in recent weeks", D(2024, 3, 21)),
        ("in recent months", D(2024, 1, 18)),
    ],
)
def test_rolling_spans_end_on_as_of(question: str, since: date) -> None:
    assert window_of(question) == (since, AS_OF)


def test_month_arithmetic_clamps_to_month_end() -> None:
    # 31 March minus one month is 29 February (clamped), so the span starts on 1 March.
    assert window_of("past month", D(2024, 3, 31)) == (D(2024, 3, 1), D(2024, 3, 31))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("past years", None),
        ("past 0 days", None),
        ("in the past", None),
        ("in recent years", None),
        ("in recent day", None),
        # Not a rolling week: the month that follows is what gets resolved.
        ("the last week of March", (D(2024, 3, 1), D(2024, 3, 31))),
    ],
)
def test_rolling_phrases_without_a_usable_size(
    question: str, expected: tuple[date, date] | None
) -> None:
    assert window_of(question) == expected


def test_recent_days_also_prefers_recent() -> None:
    intent = parse_time_intent("What happened in recent days?", AS_OF)
    assert intent.prefer_recent
    assert intent.window == TimeWindow(D(2024, 4, 11), AS_OF, "in recent days")


@pytest.mark.parametrize(
    "question",
    [
        "today",
        "yesterday",
        "this week",
        "last week",
        "past week",
        "this month",
        "last month",
        "this year",
        "last year",
        "past 5 years",
        "in April",
        "in December",
        "on 31 December",
        "on Sunday",
        "since last month",
        "before this week",
        "until yesterday",
        "between November and February",
    ],
)
def test_relative_windows_never_pass_as_of(question: str) -> None:
    rnd = random.Random(question)
    for _ in range(200):
        as_of = date(2000, 1, 1) + timedelta(days=rnd.randrange(365 * 40))
        window = parse_time_intent(question, as_of).window
        assert window is not None, (question, as_of)
        assert window.since is None or window.since <= as_of, (question, as_of)
        assert window.until is None or window.until <= as_of, (question, as_of)


# --------------------------------------------------------------------------------------
# Explicit dates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("What happened in April 2024?", D(2024, 4, 1), D(2024, 4, 30)),
        ("April 2024 protests", D(2024, 4, 1), D(2024, 4, 30)),
        ("during March 2023", D(2023, 3, 1), D(2023, 3, 31)),
        ("in Apr. 2024", D(2024, 4, 1), D(2024, 4, 30)),
        ("in Sept 2023", D(2023, 9, 1), D(2023, 9, 30)),
        ("in February 2023", D(2023, 2, 1), D(2023, 2, 28)),
        ("in May of 2022", D(2022, 5, 1), D(2022, 5, 31)),
        ("in early March 2024", D(2024, 3, 1), D(2024, 3, 10)),
        ("in mid-March 2024", D(2024, 3, 11), D(2024, 3, 20)),
        ("in late February 2024", D(2024, 2, 21), D(2024, 2, 29)),
        ("Who won the World Cup in 2018?", D(2018, 1, 1), D(2018, 12, 31)),
        ("during 2023", D(2023, 1, 1), D(2023, 12, 31)),
        ("the summer of 2022", D(2022, 1, 1), D(2022, 12, 31)),
        ("throughout 1999", D(1999, 1, 1), D(1999, 12, 31)),
        ("in 2100", D(2100, 1, 1), D(2100, 12, 31)),
        ("in 1900", D(1900, 1, 1), D(1900, 12, 31)),
        ("in mid-2023", D(2023, 5, 1), D(2023, 8, 31)),
        ("early 2024", D(2024, 1, 1), D(2024, 4, 30)),
        ("late 2023", D(2023, 9, 1), D(2023, 12, 31)),
        ("GDP in Q1 2024", D(2024, 1, 1), D(2024, 3, 31)),
        ("Q4 2023 results", D(2023, 10, 1), D(2023, 12, 31)),
        ("in the 1990s", D(1990, 1, 1), D(1999, 12, 31)),
        ("on 5 January 2023", D(2023, 1, 5), D(2023, 1, 5)),
        ("on the 5th of January 2023", D(2023, 1, 5), D(2023, 1, 5)),
        ("January 5, 2023", D(2023, 1, 5), D(2023, 1, 5)),
        ("Jan 5th 2023", D(2023, 1, 5), D(2023, 1, 5)),
        ("2023-01-05", D(2023, 1, 5), D(2023, 1, 5)),
        ("2023/01/05", D(2023, 1, 5), D(2023, 1, 5)),
        ("5 Jan 2023", D(2023, 1, 5), D(2023, 1, 5)),
        ("29 February 2024", D(2024, 2, 29), D(2024, 2, 29)),
        # Explicit future dates are allowed.
        ("What is planned in December 2030?", D(2030, 12, 1), D(2030, 12, 31)),
        ("in 2030", D(2030, 1, 1), D(2030, 12, 31)),
        ("in April 2024", D(2024, 4, 1), D(2024, 4, 30)),  # not clipped to as_of
    ],
)
def test_explicit_dates(question: str, since: date, until: date) -> None:
    assert window_of(question) == (since, until)


@pytest.mark.parametrize(
    ("question", "as_of", "since", "until"),
    [
        # The most recent such month on or before as_of's month; the current one is clipped.
        ("What happened in April?", AS_OF, D(2024, 4, 1), D(2024, 4, 17)),
        ("What happened in March?", AS_OF, D(2024, 3, 1), D(2024, 3, 31)),
        ("What happened in January?", AS_OF, D(2024, 1, 1), D(2024, 1, 31)),
        ("What happened in May?", AS_OF, D(2023, 5, 1), D(2023, 5, 31)),
        ("What happened in December?", AS_OF, D(2023, 12, 1), D(2023, 12, 31)),
        ("What happened in December?", D(2024, 12, 31), D(2024, 12, 1), D(2024, 12, 31)),
        ("in late April", AS_OF, D(2023, 4, 21), D(2023, 4, 30)),
        ("in early April", AS_OF, D(2024, 4, 1), D(2024, 4, 10)),
        ("on 5 March", AS_OF, D(2024, 3, 5), D(2024, 3, 5)),
        ("on March 5th", AS_OF, D(2024, 3, 5), D(2024, 3, 5)),
        ("on 20 April", AS_OF, D(2023, 4, 20), D(2023, 4, 20)),
        ("the 5th of May", AS_OF, D(2023, 5, 5), D(2023, 5, 5)),
        ("on 29 February", D(2025, 6, 1), D(2024, 2, 29), D(2024, 2, 29)),
    ],
)
def test_months_and_days_without_a_year(
    question: str, as_of: date, since: date, until: date
) -> None:
    assert window_of(question, as_of) == (since, until)


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2018 FIFA World Cup?",
        "What did the 2022 invasion change?",  # the event itself is a noun phrase
        "How many in 2023 people were displaced?",
        "The vote was won by 2023 votes",
        "It rose by 2023 %",
        "a total of 2023 soldiers",
        "budget for 2022-23",
        "in 2022/23",
        "in 1850",
        "in 2150",
        "$2023 million in aid",
        "room 2023",
        "May I ask about sanctions?",
        "Theresa May resigned",
        "the March on Washington",
        "Who owns Mar-a-Lago?",
        "Monday's vote",
        "31 April 2024",
        "2023-02-30",
        "2023-13-01",
        "in 5 weeks",
        "Marchers in Paris",
        "٢٠٢٣-٠١-٠٥",  # Arabic-Indic digits are not read as a date
        "in ２０２３",  # nor full-width ones
    ],
)
def test_no_window(question: str) -> None:
    assert parse_time_intent(question, AS_OF).window is None


# --------------------------------------------------------------------------------------
# Prepositions and ranges
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("since March 2024", D(2024, 3, 1), None),
        ("since 2022", D(2022, 1, 1), None),
        ("from March 2024", D(2024, 3, 1), None),
        ("since 5 January 2023", D(2023, 1, 5), None),
        ("since Monday", D(2024, 4, 15), None),
        ("since last month", D(2024, 3, 1), None),
        ("since yesterday", D(2024, 4, 16), None),
        ("since March", D(2024, 3, 1), None),
        ("since 2030", D(2030, 1, 1), None),  # explicit future
        ("after 2022", D(2023, 1, 1), None),
        ("after March 2024", D(2024, 4, 1), None),
        ("following 5 Jan 2023", D(2023, 1, 6), None),
        ("before 2023", None, D(2022, 12, 31)),
        ("before March 2024", None, D(2024, 2, 29)),
        ("prior to 5 January 2023", None, D(2023, 1, 4)),
        ("until 2023", None, D(2023, 12, 31)),
        ("until March 2024", None, D(2024, 3, 31)),
        ("by 2030", None, D(2030, 12, 31)),
        ("by February 2024", None, D(2024, 2, 29)),
        ("up to 2020", None, D(2020, 12, 31)),
        ("as of March 2024", None, D(2024, 3, 31)),
        ("since the start of 2022", D(2022, 1, 1), None),
        ("since the beginning of March 2024", D(2024, 3, 1), None),
        ("since the end of 2023", D(2023, 12, 31), None),
        ("by the end of 2023", None, D(2023, 12, 31)),
        ("before the end of 2023", None, D(2023, 12, 30)),
    ],
)
def test_prepositions(question: str, since: date | None, until: date | None) -> None:
    assert window_of(question) == (since, until)


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("between March and May 2024", D(2024, 3, 1), D(2024, 5, 31)),
        ("from 1 March to 15 March 2024", D(2024, 3, 1), D(2024, 3, 15)),
        ("from March 1 to March 15, 2024", D(2024, 3, 1), D(2024, 3, 15)),
        ("between November and February 2024", D(2023, 11, 1), D(2024, 2, 29)),
        ("between 2020 and 2022", D(2020, 1, 1), D(2022, 12, 31)),
        ("from 2019 to 2021", D(2019, 1, 1), D(2021, 12, 31)),
        ("from January 2023 until March 2024", D(2023, 1, 1), D(2024, 3, 31)),
        ("between 2023-01-05 and 2023-02-01", D(2023, 1, 5), D(2023, 2, 1)),
        ("between January and March", D(2024, 1, 1), D(2024, 3, 31)),
        ("from last week to today", D(2024, 4, 8), D(2024, 4, 17)),
    ],
)
def test_ranges(question: str, since: date, until: date) -> None:
    window = parse_time_intent(question, AS_OF).window
    assert window is not None
    assert (window.since, window.until) == (since, until)
    assert window.expression == question


def test_backwards_range_is_not_a_range() -> None:
    # "from 2022 to 2020" makes no sense as a range; the preposition alone still applies.
    assert window_of("from 2022 to 2020") == (D(2022, 1, 1), None)


@pytest.mark.parametrize(
    "question", ["after today", "What happens after today?", "as of today", "until now"]
)
def test_phrases_that_mean_up_to_now_give_no_window(question: str) -> None:
    assert parse_time_intent(question, AS_OF).window is None


# --------------------------------------------------------------------------------------
# Recency, events and precedence
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "prefer_recent"),
    [
        ("What is the latest on Gaza?", True),
        ("Who is the current president of Iran?", True),
        ("Who currently leads Hamas?", True),
        ("What is happening now in Sudan?", True),
        ("What is the most recent news?", True),
        ("Any recent developments?", True),
        ("What happened recently in Niger?", True),
        ("Newest sanctions on Russia", True),
        ("LATEST NEWS", True),
        ("Who leads Russia as of today?", True),
        ("How many have died so far?", True),
        ("so far this year", True),
        ("What is the situation nowadays?", True),
        ("What has changed lately?", True),
        ("these days", True),
        ("Who won the 2018 World Cup?", False),
        ("What happened last month?", False),
        ("Do you know about Taiwan?", False),  # "know" is not "now"
        ("Recentralisation in France", False),
        ("lateststuff", False),
        ("the currents of the Black Sea", False),
        ("", False),
    ],
)
def test_prefer_recent(question: str, prefer_recent: bool) -> None:
    assert parse_time_intent(question, AS_OF).prefer_recent is prefer_recent


@pytest.mark.parametrize(
    ("question", "unresolved"),
    [
        ("What has changed since the summit?", ("since the summit",)),
        ("since the war began, how many refugees left?", ("since the war began",)),
        ("What happened after the election?", ("after the election",)),
        ("What did NATO do before the invasion of Ukraine?", ("before the invasion of Ukraine",)),
        ("until the ceasefire", ("until the ceasefire",)),
        ("How has trade changed since Brexit?", ("since Brexit",)),
        ("after Russia's invasion", ("after Russia's invasion",)),
        ("since the U.S. withdrawal", ("since the U.S. withdrawal",)),
        ("since the 2022 invasion", ("since the 2022 invasion",)),
        ("What happened since then?", ("since then",)),
        ("after the summit and before the vote", ("after the summit", "before the vote")),
        ("since the summit in April 2024", ("since the summit",)),
        ("since March 2024", ()),
        ("since when has this been true?", ()),
        ("since this week's summit", ()),
        ("What happened after I left?", ()),
        ("What happened last week?", ()),
    ],
)
def test_unresolved_event_anchors(question: str, unresolved: tuple[str, ...]) -> None:
    assert parse_time_intent(question, AS_OF).unresolved == unresolved


def test_unresolved_event_gives_no_window_and_keeps_question() -> None:
    question = "What has changed since the summit?"
    intent = parse_time_intent(question, AS_OF)
    assert intent == TimeIntent(None, False, ("since the summit",), question)


def test_event_and_date_together() -> None:
    intent = parse_time_intent("What changed since the summit in April 2024?", AS_OF)
    assert intent.unresolved == ("since the summit",)
    assert intent.window == TimeWindow(D(2024, 4, 1), D(2024, 4, 30), "in April 2024")


@pytest.mark.parametrize(
    ("question", "expression"),
    [
        # The first resolvable expression wins; later ones are ignored.
        ("Compare last month with last year", "last month"),
        ("In 2023 and in 2022, who led?", "In 2023"),
        ("since the summit, what happened last week?", "last week"),
        ("What happened in 2023 people said in 2024?", "in 2024"),
        # The longest expression at the same position wins.
        ("from 1 March to 15 March 2024", "from 1 March to 15 March 2024"),
        ("in the last week", "in the last week"),
        ("so far this year", "so far this year"),
    ],
)
def test_first_resolvable_expression_wins(question: str, expression: str) -> None:
    window = parse_time_intent(question, AS_OF).window
    assert window is not None
    assert window.expression == expression


def test_expression_whitespace_is_normalised() -> None:
    window = parse_time_intent("What happened in\n  April   2024?", AS_OF).window
    assert window is not None
    assert window.expression == "in April 2024"


def test_case_insensitive() -> None:
    assert window_of("WHAT HAPPENED LAST MONTH?") == (D(2024, 3, 1), D(2024, 3, 31))
    assert window_of("In APRIL 2024") == (D(2024, 4, 1), D(2024, 4, 30))


# --------------------------------------------------------------------------------------
# stripped_question
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "stripped"),
    [
        ("Who won the World Cup in 2018?", "Who won the World Cup?"),
        ("What happened this week in Gaza?", "What happened in Gaza?"),
        ("In 2018, who won the World Cup?", "who won the World Cup?"),
        ("What did NATO say last month about Ukraine?", "What did NATO say about Ukraine?"),
        ("Oil prices (in April 2024)?", "Oil prices?"),
        ("yesterday's vote in Paris", "vote in Paris"),
        ("last month", ""),
        ("Q1 2024 GDP growth", "GDP growth"),
        # Nothing resolved: the original, untouched (even its odd whitespace).
        ("What changed  since the summit ?", "What changed  since the summit ?"),
        ("Who won the 2018 FIFA World Cup?", "Who won the 2018 FIFA World Cup?"),
        ("latest news", "latest news"),
    ],
)
def test_stripped_question(question: str, stripped: str) -> None:
    assert parse_time_intent(question, AS_OF).stripped_question == stripped


# --------------------------------------------------------------------------------------
# TimeWindow
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until", "text"),
    [
        (D(2024, 4, 1), D(2024, 4, 7), "1–7 Apr 2024"),
        (D(2024, 4, 1), D(2024, 4, 30), "1–30 Apr 2024"),
        (D(2023, 1, 5), D(2023, 1, 5), "5 Jan 2023"),
        (D(2025, 3, 3), None, "since 3 Mar 2025"),
        (None, D(2023, 12, 31), "until 31 Dec 2023"),
        (D(2024, 3, 28), D(2024, 4, 3), "28 Mar – 3 Apr 2024"),
        (D(2023, 12, 28), D(2024, 1, 3), "28 Dec 2023 – 3 Jan 2024"),
        (D(2023, 9, 9), D(2023, 9, 10), "9–10 Sep 2023"),
        (None, None, "any time"),
    ],
)
def test_describe(since: date | None, until: date | None, text: str) -> None:
    assert TimeWindow(since, until, "x").describe() == text


@pytest.mark.parametrize(
    ("question", "as_of", "text"),
    [
        ("this week", AS_OF, "15–17 Apr 2024"),
        ("last month", D(2024, 3, 10), "1–29 Feb 2024"),
        ("since 3 March 2025", AS_OF, "since 3 Mar 2025"),
        ("before 2024", AS_OF, "until 31 Dec 2023"),
        ("on 5 January 2023", AS_OF, "5 Jan 2023"),
        ("in 2018", AS_OF, "1 Jan – 31 Dec 2018"),
    ],
)
def test_describe_parsed_windows(question: str, as_of: date, text: str) -> None:
    window = parse_time_intent(question, as_of).window
    assert window is not None
    assert window.describe() == text


@pytest.mark.parametrize(
    ("since", "until", "day", "inside"),
    [
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 4, 1), True),
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 4, 30), True),
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 4, 15), True),
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 3, 31), False),
        (D(2024, 4, 1), D(2024, 4, 30), D(2024, 5, 1), False),
        (D(2024, 4, 1), None, D(2099, 1, 1), True),
        (D(2024, 4, 1), None, D(2024, 3, 31), False),
        (None, D(2023, 12, 31), D(1900, 1, 1), True),
        (None, D(2023, 12, 31), D(2024, 1, 1), False),
        (None, None, D(2024, 1, 1), True),
    ],
)
def test_contains(since: date | None, until: date | None, day: date, inside: bool) -> None:
    assert TimeWindow(since, until, "x").contains(day) is inside


def test_inverted_window_is_rejected() -> None:
    with pytest.raises(ValueError):
        TimeWindow(D(2024, 5, 1), D(2024, 4, 1), "x")


def test_dataclasses_are_frozen() -> None:
    window = TimeWindow(D(2024, 4, 1), D(2024, 4, 30), "in April 2024")
    intent = parse_time_intent("in April 2024", AS_OF)
    with pytest.raises(dataclasses.FrozenInstanceError):
        window.since = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.prefer_recent = True  # type: ignore[misc]
    assert intent.window == window


def test_public_api() -> None:
    assert sorted(timewindow.__all__) == ["TimeIntent", "TimeWindow", "parse_time_intent"]


# --------------------------------------------------------------------------------------
# Robustness and speed
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "",
        " ",
        "\x00\n\t\r",
        "?!.,;:()[]{}" * 50,
        "!?.,;:" * 2000,
        "a" * 10_000,
        "since the " * 1000,
        "in " * 3000,
        "between March and " * 500,
        "自2022年以来，乌克兰局势如何？",
        "ما هو آخر ما حدث منذ عام الحرب؟",
        "🙂🙃" * 100,
        "\ud800",  # a lone surrogate
    ],
)
def test_hostile_inputs_give_an_empty_intent(question: str) -> None:
    intent = parse_time_intent(question, AS_OF)
    assert intent == TimeIntent(None, False, (), question)


@pytest.mark.parametrize("as_of", [date.min, date.max, date(1, 1, 7), date(9999, 12, 25)])
@pytest.mark.parametrize(
    "question",
    [
        "yesterday",
        "last week",
        "last month",
        "last year",
        "past 9999 years",
        "past 12 decades",
        "in April",
        "on 29 February",
        "since Monday",
        "after today",
        "between November and February",
        "this week",
    ],
)
def test_extreme_as_of_never_raises(question: str, as_of: date) -> None:
    intent = parse_time_intent(question, as_of)
    assert isinstance(intent, TimeIntent)


def test_random_text_never_raises() -> None:
    rnd = random.Random(20240417)
    alphabet = string.printable + "–—’年月日éü"
    words = ["in", "since", "after", "before", "between", "and", "the", "last", "past", "May"]
    words += ["April", "2024", "1999", "5th", "of", "Q2", "mid-", "recent", "days", "today"]
    for _ in range(3000):
        if rnd.random() < 0.5:
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        else:
            text = " ".join(rnd.choice(words) for _ in range(rnd.randint(0, 12)))
        as_of = date(rnd.randint(1, 9999), rnd.randint(1, 12), rnd.randint(1, 28))
        intent = parse_time_intent(text, as_of)
        if intent.window is not None and intent.window.since and intent.window.until:
            assert intent.window.since <= intent.window.until


def test_non_string_input_is_an_empty_intent() -> None:
    intent = parse_time_intent(None, AS_OF)  # type: ignore[arg-type]
    assert intent == TimeIntent(None, False, (), "")


def test_time_expressions_past_the_scan_limit_are_ignored() -> None:
    question = "x " * 5000 + "in 2018"
    intent = parse_time_intent(question, AS_OF)
    assert intent.window is None
    assert intent.stripped_question == question
