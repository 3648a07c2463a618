"""Short texts and embeds of the bot's own (help, stats, ingest and poll reports, names)."""

from __future__ import annotations

import discord

from bot.discord.choices import ArticleTitle
from bot.discord.text import collapse, format_day, neutralize_mentions, one_line, outlet_credit
from bot.feed_reports import describe_feed_report
from index import Article, IngestReport, StoreStats
from index.web.feed_store import Feed
from index.web.polling import PollReport

__all__ = [
    "choice_name",
    "feed_choice_name",
    "outlet_choice_name",
    "render_feed_added",
    "render_feed_removed",
    "render_help",
    "render_ingest_report",
    "render_poll_report",
    "render_stats",
    "thread_name",
]

CONTENT_MAX = 2000

BLUE = discord.Colour.blurple()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def thread_name(question: str) -> str:
    """A thread title from a question: one line, at most Discord's 100 characters."""
    return _clip(neutralize_mentions(collapse(question)) or "Question", 100)


def choice_name(article: Article | ArticleTitle) -> str:
    """An autocomplete choice (1 to 100 characters): date and title."""
    return _clip(f"{format_day(article.published)} · {collapse(article.title)}", 100)


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
            "**/ask** a question (optionally `since`/`until` a date, one `outlet` or "
            "one `country`)\n"
            "**/summary** one article, or a topic across articles\n"
            "**/search** the passages matching some words (same filters)\n"
            "**/sources** the articles I know\n"
            "**/status** how I am doing; **/settings show** how I answer on this server\n"
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
    outlets = ", ".join(f"{one_line(o, 100)} ({n})" for o, n in stats.outlets[:15])
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


# -- feeds -------------------------------------------------------------------------------


def outlet_choice_name(outlet: str, articles: int) -> str:
    """An autocomplete choice for an outlet (1 to 100 characters): name and article count."""
    noun = "article" if articles == 1 else "articles"
    return _clip(f"{collapse(outlet)} ({articles} {noun})", 100)


def feed_choice_name(feed: Feed) -> str:
    """An autocomplete choice for a feed (1 to 100 characters): outlet and URL."""
    who = outlet_credit(feed.outlet or feed.title, feed.country)
    text = collapse(f"{who} · {feed.url}") if who else collapse(feed.url)
    return _clip(text, 100)


def render_feed_added(feed: Feed, new: bool, *, polling: bool = True) -> str:
    """/feeds add: what was added (or updated), and when it will be polled."""
    who = outlet_credit(feed.outlet, feed.country)
    text = f"{'Added' if new else 'Updated'} feed <{feed.url}>" + (f" ({who})" if who else "")
    if polling:
        text += ". I poll it in the background, starting now." if new else "."
    else:
        text += ". Background polling is off: `/feeds poll` polls it."
    return _clip(neutralize_mentions(text), CONTENT_MAX)


def render_feed_removed(feed: Feed) -> str:
    noun = "article" if feed.entries_ingested == 1 else "articles"
    text = (
        f"Removed feed <{feed.url}> (the {feed.entries_ingested} {noun} it brought stay; "
        "`/remove` deletes one)."
    )
    return _clip(neutralize_mentions(text), CONTENT_MAX)


def render_poll_report(report: PollReport) -> str:
    """/feeds poll: a summary line, then each feed as `geobot feeds poll` shows it, as
    many whole feeds as fit one message (send it with embeds suppressed: URLs)."""
    noun = "feed" if len(report.feeds) == 1 else "feeds"
    head = (
        f"Polled {len(report.feeds)} {noun} in {report.seconds:.1f} s: "
        f"{report.new} new articles, {report.failed} failed."
    )
    blocks = [
        _clip(neutralize_mentions(describe_feed_report(f, max_failures=3)), 500)
        for f in report.feeds
    ]
    text = head
    for index, block in enumerate(blocks):
        rest = len(blocks) - index
        note = f"\n… and {rest} more feeds (see `/feeds list`)"
        if len(text) + 1 + len(block) + (len(note) if rest > 1 else 0) > CONTENT_MAX:
            return text + note
        text += "\n" + block
    return text
