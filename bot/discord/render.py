"""Answer-service results as Discord message payloads: pure functions, no network.

Everything here returns `discord.Embed` objects (or plain strings) that stay inside
Discord's size limits, so a send never fails with "400 Bad Request", and whose text
cannot ping anyone, however hostile the articles or the question are (the text helpers
are in `bot.discord.text`).

Answer text is made of quoted sentences, each followed by its marker " [n]". When an
answer has to be split (several embeds) or shortened, the cut always falls right after a
marker (`bot.discord.answer_pieces`), so a quote is never separated from the source that
vouches for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import discord

from bot.answers.models import Answer, Source
from bot.discord.answer_pieces import Piece, answer_pieces, pack_pieces
from bot.discord.text import (
    CITATION_MARKER,
    ELLIPSIS,
    URL_MAX,
    collapse,
    date_range,
    dated_credit,
    format_day,
    format_time,
    link,
    neutralize_mentions,
    one_line,
    plain_line,
    safe_markdown,
    safe_url,
    source_credit,
    trim,
)
from index.models import Article, SearchHit
from index.web.feed_store import Feed

__all__ = [
    "LIMITS",
    "render_answer",
    "render_feeds",
    "render_hits",
    "render_passages",
    "render_sources_page",
    "split_text",
]


@dataclass(frozen=True)
class DiscordLimits:
    """Discord's documented maxima for one message (characters, unless a count)."""

    content: int = 2000
    embed_title: int = 256
    embed_description: int = 4096
    embed_fields: int = 25
    field_name: int = 256
    field_value: int = 1024
    footer_text: int = 2048
    author_name: int = 256
    embed_total: int = 6000  # all embeds of one message together
    embeds_per_message: int = 10


LIMITS = DiscordLimits()

ANSWER_COLOUR = discord.Colour(0x4A7FB5)  # a calm blue
DECLINED_COLOUR = discord.Colour(0x8E9297)  # grey: nothing was answered
SHORTENED_NOTE = "… (answer shortened to fit Discord)"

# How much of a title or outlet a source line may use: a line must stay well inside a
# field value (1,024) even with a long URL, and shorter lines leave room for the answer.
SOURCE_TITLE_MAX = 200
CREDIT_MAX = 120
SNIPPET_MAX = 300

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_BEFORE_MARKER = re.compile(r"\s*\[\d+\]")


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


# ---------------------------------------------------------------------------------------
# Limits


def _embed_length(embed: discord.Embed) -> int:
    """The characters Discord counts toward the 6,000 per message: title, description,
    field names and values, footer text and author name. discord.py's ``len(embed)``
    counts exactly these (checked in the tests), so it is the single source of truth."""
    return len(embed)


def _fits(embeds: Sequence[discord.Embed]) -> bool:
    """Whether one message carrying `embeds` is within every Discord limit."""
    if not embeds or len(embeds) > LIMITS.embeds_per_message:
        return False
    if sum(_embed_length(e) for e in embeds) > LIMITS.embed_total:
        return False
    for embed in embeds:
        data = embed.to_dict()
        fields = data.get("fields", [])
        if (
            len(data.get("title", "")) > LIMITS.embed_title
            or len(data.get("description", "")) > LIMITS.embed_description
            or len(fields) > LIMITS.embed_fields
            or len(data.get("footer", {}).get("text", "")) > LIMITS.footer_text
            or len(data.get("author", {}).get("name", "")) > LIMITS.author_name
        ):
            return False
        for field in fields:
            name, value = field.get("name", ""), field.get("value", "")
            # Discord also rejects empty field names and values.
            if not name or not value:
                return False
            if len(name) > LIMITS.field_name or len(value) > LIMITS.field_value:
                return False
    return True


def _pack_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Lines joined by newlines into as few blocks of at most `limit` characters as
    greedy packing gives (each line must already fit on its own)."""
    blocks: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + 1 + len(line) <= limit:
            current += "\n" + line
        else:
            if current:
                blocks.append(current)
            current = line
    if current:
        blocks.append(current)
    return blocks


def _add_fields(embed: discord.Embed, name: str, lines: Sequence[str]) -> None:
    """`lines` as fields "name", "name (cont.)", ... each within a field value."""
    for i, value in enumerate(_pack_lines(lines, LIMITS.field_value)):
        embed.add_field(name=name if i == 0 else f"{name} (cont.)", value=value, inline=False)


# ---------------------------------------------------------------------------------------
# Answers


# Builds the embeds of an answer from the sentences kept (and whether any were dropped).
_Builder = Callable[[Sequence[Piece], bool], list[discord.Embed]]


def _title(answer: Answer) -> str:
    question = one_line(answer.question, LIMITS.embed_title)
    if question:
        return question
    return {"article_summary": "Article summary", "topic_summary": "Topic summary"}.get(
        answer.kind, "Answer"
    )


def _footer(answer: Answer, show_method: bool) -> str:
    lines: list[str] = []
    if answer.window is not None:
        how = "only" if answer.window.strict else "preferring"
        lines.append(f"Dates: {how} {collapse(answer.window.description)}")
    if answer.coverage is not None:
        span = date_range(*answer.coverage)
        if span:
            lines.append(f"Sources cover {span}")
    if show_method:
        took = _duration(answer.timings.total_ms)
        if answer.declined:
            lines.append(f"no answer found · {took}")
        else:
            made, checked = answer.provenance
            lines.append(f"{collapse(made)} · {checked} · {took}")
    if not answer.declined:
        # A declined answer's notes are internal reasons (its text already says why).
        lines.extend(f"Note: {collapse(note)}" for note in answer.notes if note.strip())
    return trim(neutralize_mentions("\n".join(lines)), LIMITS.footer_text)


def _source_line(source: Source) -> str:
    """ "[1] [Title](url) — Reuters (GB), 4 Mar 2025", at most ~900 characters."""
    line = f"[{source.number}] {link(source.title, source.url, SOURCE_TITLE_MAX)}"
    credit = one_line(source_credit(source), CREDIT_MAX)
    return f"{line} — {credit}" if credit else line


def _answer_embeds(
    title: str,
    pieces: Sequence[Piece],
    sources: Sequence[Source],
    footer: str,
    *,
    field_name: str = "Sources",
    colour: discord.Colour = ANSWER_COLOUR,
) -> list[discord.Embed]:
    descriptions = pack_pieces(pieces, LIMITS.embed_description) or [""]
    embeds = [
        discord.Embed(title=title if i == 0 else None, description=text or None, colour=colour)
        for i, text in enumerate(descriptions)
    ]
    # Sources and footer go on the last embed, right under the text they support.
    last = embeds[-1]
    _add_fields(last, field_name, [_source_line(s) for s in sorted(sources, key=_number)])
    if footer:
        last.set_footer(text=footer)
    return embeds


def _number(source: Source) -> int:
    return source.number


def render_answer(answer: Answer, *, show_method: bool = True) -> list[discord.Embed]:
    """`answer` as the embeds of one message, within every Discord limit.

    The text is split across embeds only right after a " [n]" marker; the Sources
    field(s) and the footer (dates, coverage, method) sit on the last embed. When the
    whole answer cannot fit one message, trailing sentences are dropped whole and a
    note says so; every source cited by the sentences kept is still listed.
    """
    if answer.declined:
        return [_render_declined(answer, show_method)]
    title = _title(answer)
    footer = _footer(answer, show_method)
    pieces = answer_pieces(answer, LIMITS.embed_description)
    note = Piece("\n\n", SHORTENED_NOTE, "", frozenset())

    def build(kept: Sequence[Piece], shortened: bool) -> list[discord.Embed]:
        cited: set[int] = set()
        for piece in kept:
            cited |= piece.numbers
        # Not shortened: every listed source stays (the service lists only cited ones).
        # Shortened: only those the remaining sentences cite; the others would puzzle.
        sources = [s for s in answer.sources if not shortened or s.number in cited]
        return _answer_embeds(title, [*kept, note] if shortened else kept, sources, footer)

    whole = build(pieces, shortened=False)
    if _fits(whole):
        return whole
    if not pieces:
        # No text at all (the service never sends that): list as many sources as fit.
        sources = list(answer.sources)
        while sources and not _fits(whole):
            sources.pop()
            whole = _answer_embeds(title, [], sources, footer)
        return whole
    # Fewer sentences never need more room (text, sources and embed count only grow
    # with each sentence kept), so the longest prefix that fits is found by bisection.
    low, high = 1, len(pieces) - 1
    best: list[discord.Embed] | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = build(pieces[:middle], shortened=True)
        if _fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best
    return _first_sentence_only(pieces, build)


def _first_sentence_only(
    pieces: Sequence[Piece],
    build: _Builder,
) -> list[discord.Embed]:
    """Even the first sentence alone is too long (a huge quote next to a long footer and
    title): cut its quote until the message fits, keeping its marker."""
    shortened = len(pieces) > 1
    first = pieces[0]
    for _ in range(8):
        embeds = build([first], shortened)
        excess = sum(_embed_length(e) for e in embeds) - LIMITS.embed_total
        if _fits(embeds):
            return embeds
        first = first.capped(len(first.body) - max(excess, 1) - 1)
    # Unreachable with Discord's limits (title + footer + one source line < 3,500
    # characters); a bare marker is the last resort so the message still sends.
    return build([replace(first, quote=ELLIPSIS)], shortened)


def _render_declined(answer: Answer, show_method: bool) -> discord.Embed:
    text = neutralize_mentions(answer.text.strip()) or "No answer found in the articles."
    description = trim(text, LIMITS.embed_description)
    footer = _footer(answer, show_method)
    sources = sorted(answer.sources, key=_number)
    # Closest sources are suggestions, not citations: drop trailing ones if they overflow.
    while True:
        embed = _answer_embeds(
            _title(answer),
            [Piece("", description, "", frozenset())],
            sources,
            footer,
            field_name="Closest sources",
            colour=DECLINED_COLOUR,
        )[0]
        if _fits([embed]) or not sources:
            break
        sources = sources[:-1]
    if not _fits([embed]):
        excess = _embed_length(embed) - LIMITS.embed_total
        embed.description = trim(description, len(description) - excess)
    return embed


# ---------------------------------------------------------------------------------------
# Passages, search hits, the sources list


def _more_note(count: int, what: str) -> str:
    return f"{count} more {what} not shown (Discord's size limits)"


def render_passages(answer: Answer) -> list[discord.Embed]:
    """Each citation's quote as a field "[n] Title — Outlet, date", for the asker only.

    Fields are spread over embeds (25 per embed); when the message would exceed 6,000
    characters or 10 embeds, the rest are left out and the footer says how many.
    """
    citations = sorted(answer.citations, key=lambda c: c.answer_start)
    if not citations:
        return [
            discord.Embed(
                title="Quoted passages",
                description="This answer quotes no passages.",
                colour=DECLINED_COLOUR,
            )
        ]
    by_number = {s.number: s for s in answer.sources}
    fields: list[tuple[str, str]] = []
    for citation in citations:
        source = by_number.get(citation.number)
        head = f"[{citation.number}] "
        if source is None:
            name = f"{head}(source not listed)"
        else:
            credit = one_line(source_credit(source), CREDIT_MAX)
            tail = f" — {credit}" if credit else ""
            room = LIMITS.field_name - len(head) - len(tail)
            name = head + (one_line(source.title, room) or "untitled") + tail
        value = trim(safe_markdown(citation.quote.strip()), LIMITS.field_value)
        fields.append((trim(name, LIMITS.field_name), value or "(empty quote)"))

    title = "Quoted passages"
    embeds = [discord.Embed(title=title, colour=ANSWER_COLOUR)]
    reserve = len(_more_note(len(fields), "passages"))  # room for the footer, if needed
    total = len(title)
    shown = 0
    for name, value in fields:
        size = len(name) + len(value)
        if total + size > LIMITS.embed_total - reserve:
            break
        if len(embeds[-1].fields) >= LIMITS.embed_fields:
            if len(embeds) >= LIMITS.embeds_per_message:
                break
            embeds.append(discord.Embed(colour=ANSWER_COLOUR))
        embeds[-1].add_field(name=name, value=value, inline=False)
        total += size
        shown += 1
    if shown < len(fields):
        embeds[-1].set_footer(text=_more_note(len(fields) - shown, "passages"))
    return embeds


def render_hits(query: str, hits: Sequence[SearchHit]) -> list[discord.Embed]:
    """/search results: one embed, a field per hit with its outlet, date, link and a
    snippet of the passage that matched."""
    embed = discord.Embed(
        title=one_line(f"Search: {query}", LIMITS.embed_title), colour=ANSWER_COLOUR
    )
    if not hits:
        embed.description = "No matching passages."
        return [embed]
    _fill_fields(embed, [_hit_field(hit) for hit in hits], "hits")
    return [embed]


def _hit_field(hit: SearchHit) -> tuple[str, str]:
    article = hit.article
    head = f"{hit.rank}. "
    name = head + one_line(article.title, LIMITS.field_name - len(head))
    credit = one_line(dated_credit(article.outlet, article.country, article.published), CREDIT_MAX)
    url = safe_url(article.url)
    header = " · ".join(part for part in (credit, f"[link]({url})" if url else "") if part)
    snippet = one_line(hit.passage.text, SNIPPET_MAX) or "(empty passage)"
    value = trim(f"{header}\n> {snippet}" if header else f"> {snippet}", LIMITS.field_value)
    return name, value


def _fill_fields(embed: discord.Embed, fields: Sequence[tuple[str, str]], noun: str) -> None:
    """Add (name, value) fields in order while they fit one embed; the footer then says
    how many were left out."""
    reserve = len(_more_note(len(fields), noun))
    total = _embed_length(embed)
    shown = 0
    for name, value in fields:
        size = len(name) + len(value)
        if len(embed.fields) >= LIMITS.embed_fields or total + size > LIMITS.embed_total - reserve:
            break
        embed.add_field(name=name, value=value, inline=False)
        total += size
        shown += 1
    if shown < len(fields):
        embed.set_footer(text=_more_note(len(fields) - shown, noun))


def render_sources_page(
    articles: Sequence[Article], *, page: int, pages: int, total: int
) -> discord.Embed:
    """One page of /sources: "`id` date · outlet · [title](url)" lines."""
    noun = "article" if total == 1 else "articles"
    embed = discord.Embed(
        title=f"Sources (page {page}/{pages}, {total} {noun})", colour=ANSWER_COLOUR
    )
    if not articles:
        embed.description = "No articles stored." if total == 0 else "No articles on this page."
        return embed
    lines: list[str] = []
    for article in articles:
        parts = [f"`{article.id}` {format_day(article.published)}"]
        outlet = one_line(article.outlet or "", CREDIT_MAX)
        if outlet:
            parts.append(outlet)
        parts.append(link(article.title, article.url, SOURCE_TITLE_MAX))
        lines.append(" · ".join(parts))
    limit = LIMITS.embed_description
    description = "\n".join(lines)
    shown = len(lines)
    # Too many long lines for one description: keep whole lines and say what was left out.
    while len(description) > limit and shown > 0:
        shown -= 1
        note = "… " + _more_note(len(lines) - shown, "articles on this page")
        description = "\n".join([*lines[:shown], note])
    embed.description = description
    return embed


# ---------------------------------------------------------------------------------------
# Feeds

FEED_ERROR_MAX = 300


def _code(text: str, limit: int) -> str:
    """Untrusted text as one inline code span (backticks inside would end it)."""
    inner = plain_line(text.replace("`", "'"), limit - 2) or " "
    return f"`{inner}`"


def _feed_field(feed: Feed, now: datetime) -> tuple[str, str]:
    # "Reuters (GB)"; without an outlet, the feed's own title stands in for it.
    who = dated_credit(feed.outlet or feed.title, feed.country, None)
    name = one_line(who, LIMITS.field_name) or "outlet unknown"
    noun = "article" if feed.entries_ingested == 1 else "articles"
    polled = (
        f"last poll {format_time(feed.last_polled_at)}" if feed.last_polled_at else "never polled"
    )
    due = feed.next_poll_at
    upcoming = format_time(due) if due is not None and due > now else "now"
    lines = [
        _code(feed.url, URL_MAX),
        f"{feed.entries_ingested} {noun} · {polled} · next {upcoming}",
    ]
    if feed.entries_failed:
        lines.append(f"{feed.entries_failed} entries failed")
    if feed.last_error:
        lines.append(
            f"Last error ({feed.failures} in a row): {one_line(feed.last_error, FEED_ERROR_MAX)}"
        )
    return name, trim("\n".join(lines), LIMITS.field_value)


def render_feeds(feeds: Sequence[Feed], *, now: datetime | None = None) -> discord.Embed:
    """/feeds list: a field per feed (outlet, URL, articles taken, last and next poll,
    the last error), as many as fit one message; the footer says how many did not.

    `now` (naive UTC) decides whether a feed's next poll is "now"."""
    moment = now or datetime.now(UTC).replace(tzinfo=None)
    noun = "feed" if len(feeds) == 1 else "feeds"
    embed = discord.Embed(title=f"Feeds ({len(feeds)} {noun})", colour=ANSWER_COLOUR)
    if not feeds:
        embed.description = "No feeds yet: add one with `/feeds add`."
        return embed
    _fill_fields(embed, [_feed_field(feed, moment) for feed in feeds], "feeds")
    return embed


# ---------------------------------------------------------------------------------------
# Plain text


def split_text(text: str, limit: int = LIMITS.content) -> list[str]:
    """`text` in chunks of at most `limit` characters (e.g. message contents).

    Cuts prefer, in order: right after a " [n]" marker, a paragraph break, a sentence
    end, a space; a cut never falls inside a marker nor between a sentence and its
    marker. A boundary type is used only if it keeps the chunk at least half full,
    else the next is tried. Whitespace at the cuts is dropped; blank text gives [].
    This does not neutralize mentions: callers sending the chunks do that.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def _best_cut(text: str, limit: int) -> int:
    """Where to end the next chunk of `text` (which is longer than `limit`)."""

    def before_marker(position: int) -> bool:
        return _BEFORE_MARKER.match(text, position) is not None

    after_markers = [
        m.end()
        for m in CITATION_MARKER.finditer(text, 0, limit)
        if m.start() > 0 and text[m.start() - 1].isspace() and text[m.end()].isspace()
    ]
    paragraphs = [m.start() for m in re.finditer(r"\n\s*\n", text[: limit + 1])]
    sentences = [m.end() for m in _SENTENCE_END.finditer(text[: limit + 1])]
    spaces = [m.start() for m in re.finditer(r"\s", text[: limit + 1])]
    kinds = [
        [c for c in candidates if 0 < c <= limit and not before_marker(c)]
        for candidates in (after_markers, paragraphs, sentences, spaces)
    ]
    for candidates in kinds:
        if candidates and max(candidates) >= limit // 2:
            return max(candidates)
    anywhere = [c for candidates in kinds for c in candidates]
    if anywhere:
        return max(anywhere)
    # No whitespace at all in reach: a hard cut, moved back out of a marker it would split.
    for m in CITATION_MARKER.finditer(text):
        if m.start() >= limit:
            break
        if m.start() < limit < m.end() and m.start() > 0:
            return m.start()
    return limit
