"""How the terminal shows articles, passages and answers (and their JSON rows)."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from typing import Any

import click

from bot.answers.models import Answer
from bot.answers.untrusted import strip_invisible
from index.models import Article, SearchHit

__all__ = [
    "WIDTH",
    "article_row",
    "credit",
    "echo",
    "format_date",
    "format_day",
    "format_moment",
    "hit_row",
    "render_answer",
    "render_answer_details",
    "source_line",
    "terminal_safe",
]


def terminal_safe(text: str) -> str:
    """`text` unable to drive the terminal: no control characters (ANSI escapes, a carriage
    return that rewrites the line), bidirectional overrides or other invisible characters.
    Article titles, passages, feed titles and model text come from outside."""
    return strip_invisible(text).replace("\r", "")


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """`click.echo` for human-readable output, made `terminal_safe` (JSON output is not
    passed through here: it escapes control characters itself and must stay faithful)."""
    click.echo(terminal_safe(message), err=err, nl=nl)


def format_date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


def article_row(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "published": article.published,
        "outlet": article.outlet,
        "country": article.country,
        "title": article.title,
        "url": article.url,
        "passages": article.passage_count,
    }


def hit_row(hit: SearchHit) -> dict[str, Any]:
    return {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "dense_score": hit.dense_score,
        "keyword_score": hit.keyword_score,
        "article_id": hit.article.id,
        "title": hit.article.title,
        "outlet": hit.article.outlet,
        "country": hit.article.country,
        "published": hit.article.published,
        "url": hit.article.url,
        "passage_id": hit.passage.id,
        "start": hit.passage.start,
        "end": hit.passage.end,
        "text": hit.passage.text,
    }


def format_moment(value: datetime | None) -> str:
    """ "2025-03-04 09:30 UTC", or "-" when there is none."""
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return "undated"
    return f"{value.day} {value:%b %Y}"


def credit(outlet: str | None, country: str | None) -> str:
    """ "Reuters (GB)", "Reuters", or "" when the outlet is unknown."""
    return f"{outlet} ({country})" if outlet and country else outlet or ""


def source_line(
    number: int, title: str, outlet: str | None, country: str | None, published: datetime | None
) -> str:
    """ "[2] Title — Reuters (GB), 4 Mar 2025"; unknown parts are left out, not guessed."""
    where = ", ".join(part for part in (credit(outlet, country), format_day(published)) if part)
    return f"[{number}] {title} — {where}"


WIDTH = 88  # the terminal columns an answer's text is wrapped to


def render_answer(answer: Answer) -> str:
    """An answer as a terminal shows it: the short answer line (where there is one), the
    quoted text, numbered sources, a footer."""
    # Imported here: the answer modules are not needed to print `--help`.
    from bot.answers.short_answer import headline

    line = headline(answer)
    text = f"{line}\n\n{answer.text}" if line else answer.text
    lines = [textwrap.fill(p, WIDTH) if p else "" for p in text.split("\n")]
    return "\n".join(lines) + "\n\n" + render_answer_details(answer)


def render_answer_details(answer: Answer) -> str:
    """What follows an answer's text: who else reports it, the sources, a footer, notes."""
    from bot.answers.corroboration import describe

    out: list[str] = []
    if answer.corroboration:
        out.append("Who else reports it:")
        out.extend(f"  {describe(c)}" for c in answer.corroboration)
        out.append("")
    if answer.sources:
        out.append("Closest sources:" if answer.declined else "Sources:")
        for s in answer.sources:
            out.append("  " + source_line(s.number, s.title, s.outlet, s.country, s.published))
            if s.url:
                out.append(f"      {s.url}")
        out.append("")
    footer = []
    if answer.window is not None:
        kind = "only" if answer.window.strict else "preferring"
        footer.append(f"dates: {kind} {answer.window.description}")
    if answer.coverage is not None and answer.coverage[0] is not None:
        first, last = answer.coverage
        span = format_day(first) if first == last else f"{format_day(first)} to {format_day(last)}"
        footer.append(f"sources cover {span}")
    how = "declined" if answer.declined else ", ".join(answer.provenance)
    footer.append(f"{how}; {answer.timings.total_ms:.0f} ms")
    out.append(" · ".join(footer))
    for note in answer.notes:
        if answer.declined:
            continue
        out.append(f"note: {note}")
    return "\n".join(out)
