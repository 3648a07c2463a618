"""A small news corpus written for the tests: ceasefire talks on several dates, an
undated explainer, and unrelated stories."""

from __future__ import annotations

from datetime import datetime

from index import ParsedArticle

__all__ = ["CORPUS", "news_article"]


def news_article(
    key: str, title: str, text: str, published: datetime | None, outlet: str
) -> ParsedArticle:
    return ParsedArticle(
        title=title,
        text=text,
        source=f"mem:{key}",
        url=f"https://news.example/{key}",
        outlet=outlet,
        published=published,
    )


CORPUS = [
    news_article(
        "talks-week",
        "Ceasefire talks resume in Cairo",
        "Negotiators met in Cairo on Monday as ceasefire talks resumed. "
        "The mediators proposed a six-week truce and a hostage exchange.\n\n"
        "Delegations will meet again on Friday.",
        datetime(2024, 4, 15, 9, 0),
        "Wire One",
    ),
    news_article(
        "talks-march",
        "Ceasefire talks stall in Doha",
        "Ceasefire talks stalled in Doha after negotiators failed to agree on a timetable. "
        "Qatar said the mediators would keep trying.\n\n"
        "The talks had started in February.",
        datetime(2024, 3, 20, 12, 0),
        "Gulf Daily",
    ),
    news_article(
        "talks-january",
        "Ceasefire talks begin",
        "The first round of ceasefire talks began in Paris with intelligence chiefs. "
        "Officials called the meeting constructive.",
        datetime(2024, 1, 10, 8, 0),
        "Le Journal",
    ),
    news_article(
        "talks-undated",
        "Background: how ceasefire talks work",
        "Ceasefire talks usually involve mediators who carry proposals between the sides. "
        "Egypt and Qatar have mediated several rounds of talks.",
        None,
        "Explainer Weekly",
    ),
    news_article(
        "grain",
        "Ukraine grain exports rise",
        "Ukraine exported more grain through its Black Sea ports in March. "
        "The agriculture ministry credited new naval escorts for the rise.",
        datetime(2024, 4, 2, 10, 0),
        "Kyiv Post",
    ),
    news_article(
        "chips",
        "Japan and the Netherlands tighten chip export rules",
        "Japan and the Netherlands agreed to tighten export rules on chipmaking machines. "
        "China criticised the decision and promised a firm response.\n\n"
        "Beijing announced export limits on gallium and germanium in retaliation.",
        datetime(2024, 4, 10, 7, 30),
        "Tech Wire",
    ),
]
