"""The daily briefing drawn for Discord: one embed per story (headline, quoted leads with
numbered sources, the outlets and countries reporting it), packed into as few messages as
Discord's limits allow. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.answers.briefing import DailyBriefing, Story
from bot.discord.text import (
    format_day,
    format_time,
    link,
    neutralize_mentions,
    one_line,
    outlet_credit,
    safe_url,
)

__all__ = ["QUIET_TEXT", "briefing_title", "quiet_text", "render_briefing"]

COLOUR = discord.Colour(0x2E8B57)  # a sea green, apart from answers' blue
EMBED_TOTAL = 6000  # every embed of one message together
EMBEDS_PER_MESSAGE = 10
HEADLINE_MAX = 200
QUOTE_MAX = 300
REPORTERS_MAX = 300
SOURCE_TITLE_MAX = 120
CREDIT_MAX = 80

QUIET_TEXT = (
    "No new articles came in over the last 24 hours{topic}, so there is no briefing "
    "today. I'll post again once there is news (and won't repeat this until then)."
)


def briefing_title(briefing: DailyBriefing) -> str:
    topic = f": {briefing.topic}" if briefing.topic else ""
    return one_line(f"Daily briefing, {format_day(briefing.until)}{topic}", 256)


def quiet_text(topic: str | None) -> str:
    about = f" about “{topic}”" if topic else ""
    return neutralize_mentions(QUIET_TEXT.format(topic=" ".join(about.split())[:200]))


def _story_embed(story: Story, position: int, first_number: int) -> discord.Embed:
    lines = []
    for offset, quote in enumerate(story.quotes):
        lines.append(f"“{one_line(quote.text, QUOTE_MAX)}” [{first_number + offset}]")
    reporters = ", ".join(outlet_credit(o, c) or "unnamed outlet" for o, c in story.reporters)
    noun = "article" if len(story.articles) == 1 else "articles"
    lines.append(
        f"**Reported by** {one_line(reporters, REPORTERS_MAX)} ({len(story.articles)} {noun})"
    )
    for offset, quote in enumerate(story.quotes):
        article = quote.article
        credit = one_line(outlet_credit(article.outlet, article.country), CREDIT_MAX)
        day = format_day(article.published)
        source = link(article.title, article.url, SOURCE_TITLE_MAX)
        lines.append(
            f"[{first_number + offset}] {source} — {', '.join(filter(None, (credit, day)))}"
        )
    embed = discord.Embed(
        title=f"{position}. {one_line(story.headline, HEADLINE_MAX)}",
        description="\n".join(lines),
        colour=COLOUR,
        url=safe_url(story.articles[0].url),
    )
    return embed


def _length(embed: discord.Embed) -> int:
    data = embed.to_dict()
    return (
        len(data.get("title", ""))
        + len(data.get("description", ""))
        + len(data.get("footer", {}).get("text", ""))
        + len(data.get("author", {}).get("name", ""))
    )


def render_briefing(briefing: DailyBriefing) -> list[list[discord.Embed]]:
    """The briefing's messages, each a list of embeds within Discord's per-message limits
    (the first names the briefing, the last says what it was drawn from)."""
    embeds: list[discord.Embed] = []
    number = 1
    for position, story in enumerate(briefing.stories, start=1):
        embeds.append(_story_embed(story, position, number))
        number += len(story.quotes)
    if not embeds:
        return []
    embeds[0].set_author(name=briefing_title(briefing))
    noun = "article" if briefing.article_count == 1 else "articles"
    embeds[-1].set_footer(
        text=f"Quoted word for word from {briefing.article_count} {noun} published "
        f"{format_time(briefing.since)} to {format_time(briefing.until)}."
    )
    return _pack(embeds)


def _pack(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    size = 0
    for embed in embeds:
        length = _length(embed)
        if current and (size + length > EMBED_TOTAL or len(current) == EMBEDS_PER_MESSAGE):
            messages.append(current)
            current, size = [], 0
        current.append(embed)
        size += length
    messages.append(current)
    return messages
