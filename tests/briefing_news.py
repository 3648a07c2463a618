"""A day of news for the briefing tests: one story told by three outlets, another by
one, and older articles outside the day."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from corpus import news_article

from index import ParsedArticle

__all__ = ["BRIEFING_DAY", "DAY_NEWS", "OLD_NEWS"]

BRIEFING_DAY = datetime(2024, 5, 2)


def _at(hour: int) -> datetime:
    return BRIEFING_DAY.replace(hour=hour)


def _from(article: ParsedArticle, country: str) -> ParsedArticle:
    return replace(article, country=country)


DAM = "dam breach floods villages along the Dniester river valley"
DAY_NEWS = [
    _from(
        news_article(
            "dam-1",
            "Dam breach floods Dniester valley villages",
            f"A {DAM} early on Thursday, forcing thousands of residents to evacuate. "
            "Rescue teams used boats to reach families stranded on rooftops.\n\n"
            "Engineers said the dam breach followed days of heavy rain.",
            _at(6),
            "River Post",
        ),
        "MD",
    ),
    _from(
        news_article(
            "dam-2",
            "Thousands evacuated after Dniester dam breach",
            f"Officials said the {DAM} and forced thousands of residents to evacuate. "
            "The dam breach flooded farmland and cut the main road.",
            _at(7),
            "Wire One",
        ),
        "GB",
    ),
    _from(
        news_article(
            "dam-3",
            "Dniester dam breach: rescue teams reach stranded villages",
            f"Rescue teams reached the villages after the {DAM} on Thursday. "
            "Residents forced to evacuate the valley waited in schools.",
            _at(5),
            "Danube Daily",
        ),
        "RO",
    ),
    _from(
        news_article(
            "chess",
            "Chess olympiad opens in Tbilisi with record entry",
            "The chess olympiad opened in Tbilisi with a record entry of national teams. "
            "Grandmasters played the first round under new time controls.",
            _at(4),
            "Board Weekly",
        ),
        "GE",
    ),
]

OLD_NEWS = [
    news_article(
        "dam-old",
        "Dniester dam inspected",
        f"Inspectors warned in March that a {DAM} could follow heavy rain in spring.",
        datetime(2024, 3, 20, 9, 0),
        "River Post",
    )
]
