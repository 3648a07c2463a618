"""Short texts and embeds of the bot's own (help, stats, ingest reports, names)."""

from __future__ import annotations

import discord

from bot.discord.render import format_day, neutralize_mentions
from index import Article, IngestReport, StoreStats

__all__ = ["choice_name", "render_help", "render_ingest_report", "render_stats", "thread_name"]

BLUE = discord.Colour.blurple()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def thread_name(question: str) -> str:
    """A thread title from a question: one line, at most Discord's 100 characters."""
    return _clip(" ".join(neutralize_mentions(question).split()) or "Question", 100)


def choice_name(article: Article) -> str:
    """An autocomplete choice (1 to 100 characters): date and title."""
    return _clip(f"{format_day(article.published)} · {' '.join(article.title.split())}", 100)


def _span(stats: StoreStats) -> str:
    if stats.earliest is None:
        return "no dated articles"
    return f"{format_day(stats.earliest)} to {format_day(stats.latest)}"


def render_help(stats: StoreStats) -> discord.Embed:
    embed = discord.Embed(
        title="What I can do",
        colour=BLUE,
        description=(
            "I answer questions about the news from the articles I have, and every sentence "
            "I give is a quote with a numbered source (outlet and date). When my articles do "
            "not answer a question, I say so instead of guessing.\n\n"
            "**/ask** a question (optionally `since`/`until` a date)\n"
            "**/summary** one article, or a topic across articles\n"
            "**/search** the passages matching some words\n"
            "**/sources** the articles I know\n"
            "Mention me with a question, or DM me. Reply to my answer, or write in the "
            "thread I open, to ask a follow-up."
        ),
    )
    embed.add_field(
        name="Where my knowledge ends",
        value=f"{stats.articles} articles, {stats.passages} passages, dated {_span(stats)}. "
        "I know nothing that is not in them.",
        inline=False,
    )
    return embed


def render_stats(stats: StoreStats) -> discord.Embed:
    embed = discord.Embed(title="Knowledge base", colour=BLUE)
    embed.add_field(name="Articles", value=str(stats.articles))
    embed.add_field(name="Passages", value=f"{stats.passages} ({stats.vectors} vectors)")
    embed.add_field(name="Dates", value=_span(stats))
    embed.add_field(name="Model", value=f"{stats.model} ({stats.dimension} dimensions)")
    embed.add_field(name="Index", value=f"FAISS {stats.index_factory}")
    embed.add_field(name="Disk", value=f"{stats.disk_bytes / 1e6:.1f} MB")
    outlets = ", ".join(f"{neutralize_mentions(o)} ({n})" for o, n in stats.outlets[:15])
    if outlets:
        embed.add_field(name="Outlets", value=_clip(outlets, 1024), inline=False)
    return embed


def render_ingest_report(name: str, report: IngestReport) -> str:
    lines = [
        f"`{neutralize_mentions(name)}`: added {report.added}, updated {report.updated}, "
        f"unchanged {report.unchanged}, failed {len(report.failed)}."
    ]
    for failure in report.failed[:10]:
        lines.append(
            f"- {neutralize_mentions(failure.source)}: {neutralize_mentions(failure.reason)}"
        )
    if len(report.failed) > 10:
        lines.append(f"- … and {len(report.failed) - 10} more")
    return _clip("\n".join(lines), 2000)
