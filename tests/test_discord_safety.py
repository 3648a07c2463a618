"""Article and model text in Discord: shown as typed, never as markup, never reordered.

Titles, outlets, quotes and written sentences are escaped where Discord renders markdown
(no link, heading, code, timestamp or auto-linked URL of their own), lose the invisible
characters that could reorder or hide what follows them, and cannot ping.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from test_discord_render import (
    all_text,
    assert_no_mentions,
    assert_within_limits,
    cite,
    make_answer,
    make_article,
    passage_of,
)

from bot.answers.citations import Quote
from bot.discord.messages import choice_name, render_stats, thread_name
from bot.discord.render import render_answer, render_hits, render_passages, render_sources_page
from bot.discord.text import escape_markdown, one_line, plain_line, safe_markdown
from index import StoreStats
from index.models import Article, SearchHit

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
INVISIBLE = BIDI + "\u200b\u2060\ufeff\u00ad\U000e0041\x1b"
HOSTILE_TITLE = (
    "\u202eBreaking\u202c **Official** `code` [correction](https://phish.example) "
    "<t:0:R> # heading @everyone <@&123456789012345678>"
)
HOSTILE_QUOTE = (
    "# Heading **bold** _it_ ~~gone~~ ||spoiler|| `code` [click](https://phish.example) "
    "<https://phish.example> > quote <@123456789012345678> @here \u2066hidden\u2069 end."
)
# Markdown Discord would act on: an unescaped markdown character, a link target, a URL.
UNESCAPED = re.compile(r"(?<!\\)[*_~|`<>#]|(?<!\\)\]\(|https?://(?!news\.example/)")


def hostile_article(article_id: int = 1) -> tuple[Article, Quote]:
    article = make_article(
        article_id,
        HOSTILE_TITLE,
        [HOSTILE_QUOTE, "Talks resumed."],
        outlet="\u202eSretuer **AP** @here",
        country="\u2066GB\u2069",
    )
    return article, cite(article, HOSTILE_QUOTE)


def markup_in(text: str) -> list[str]:
    return UNESCAPED.findall(text)


def test_escape_markdown_shows_text_as_typed() -> None:
    assert escape_markdown("**a** _b_ ~c~ |d| `e` \\f [g](h) <i> # j > k") == (
        "\\*\\*a\\*\\* \\_b\\_ \\~c\\~ \\|d\\| \\`e\\` \\\\f \\[g\\](h) \\<i\\> \\# j \\> k"
    )
    assert escape_markdown("- a\n  12. b\n1) c\n+ d\nx - y 3. z") == (
        "\\- a\n  12\\. b\n1\\) c\n\\+ d\nx - y 3. z"
    )
    assert escape_markdown("see https://x.example/a and HTTP://y") == (
        "see https\\://x.example/a and HTTP\\://y"
    )
    plain = "The U.S. said 3.5% (of $2bn) rose - officials' view, \u201cquoted\u201d."
    assert escape_markdown(plain) == plain


def test_safe_markdown_and_one_line_strip_invisible_characters() -> None:
    for hidden in INVISIBLE:
        assert safe_markdown(f"Ti{hidden}tle") == "Title"
        assert one_line(f"Ti{hidden}tle", 50) == "Title"
        assert plain_line(f"Ti{hidden}tle", 50) == "Title"
    # Neutralizing a mention survives every helper (its zero-width space stays).
    assert one_line("@everyone", 50) == "@\u200beveryone"
    assert safe_markdown(safe_markdown("@here")) == "@\u200bhere"


def test_one_line_never_ends_in_a_lone_escape() -> None:
    for limit in range(5, 40):
        cut = one_line("a_b_c " * 20, limit)
        assert len(cut) <= limit
        assert not cut.endswith("\\\u2026")


def test_answer_titles_and_quotes_are_shown_as_typed() -> None:
    article, quote = hostile_article()
    answer = make_answer([quote, cite(article, "Talks resumed.")], question=HOSTILE_TITLE)
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    shown = all_text(embeds)
    assert_no_mentions(shown)
    assert not any(ch in shown for ch in INVISIBLE if ch not in "\x1b\u200b")
    assert "\\u001b" not in shown  # json.dumps writes an ESC as \u001b
    assert re.findall(r".\u200b", shown) == ["@\u200b"] * shown.count("\u200b")  # ours
    description = embeds[0].description or ""
    assert markup_in(description) == []
    assert description.startswith("\\# Heading \\*\\*bold\\*\\* \\_it\\_")
    assert markup_in(embeds[0].title or "") == []
    (line,) = embeds[-1].to_dict()["fields"][0]["value"].split("\n")
    # The title inside the source's link, and the credit after it, carry no markup.
    text, url = re.fullmatch(r"\[1\] \[(.*)\]\((\S+)\) — (.*)", line).group(1, 2)  # type: ignore[union-attr]
    assert url == "https://news.example/1"
    assert markup_in(text) == [] and markup_in(line.split(" — ", 1)[1]) == []


def test_passages_hits_and_sources_page_are_shown_as_typed() -> None:
    article, quote = hostile_article()
    answer = make_answer([quote])
    hit = SearchHit(passage=passage_of(article), article=article, score=1.0, rank=1)
    embeds = [
        *render_passages(answer),
        *render_hits(HOSTILE_TITLE, [hit]),
        render_sources_page([article], page=1, pages=1, total=1),
    ]
    assert_within_limits(embeds[:1])
    shown = all_text(embeds)
    assert_no_mentions(shown)
    assert not any(ch in shown for ch in BIDI)
    for embed in embeds:
        data = embed.to_dict()
        assert markup_in(data.get("title", "")) == []
        for field in data.get("fields", []):
            assert markup_in(field["name"].removeprefix("1. ")) == []
            # A hit's value: "credit · [link](url)\n> snippet": only ours is markup.
            value = re.sub(
                r"^(.*) · \[link\]\(https://news\.example/1\)\n> ", r"\1\n", field["value"]
            )
            assert markup_in(value) == [], value
        description = data.get("description", "")
        if description:
            # "`1` 4 Mar 2025 · outlet · [title](url)": the id's backticks and the link are ours.
            outlet, title = re.fullmatch(
                r"`1` 4 Mar 2025 · (.*) · \[(.*)\]\(https://news\.example/1\)", description
            ).group(1, 2)  # type: ignore[union-attr]
            assert markup_in(outlet) == [] and markup_in(title) == []


@pytest.mark.parametrize("hidden", BIDI)
def test_short_names_lose_bidi_characters(hidden: str) -> None:
    article = make_article(1, f"Talks{hidden} resume", ["x"], published=datetime(2024, 4, 15))
    assert choice_name(article) == "15 Apr 2024 · Talks resume"
    assert thread_name(f"What{hidden} happened?") == "What happened?"


def test_stats_outlets_are_shown_as_typed() -> None:
    stats = StoreStats(
        articles=2,
        passages=2,
        vectors=2,
        earliest=None,
        latest=None,
        outlets=(("\u202e**Evil** [x](https://phish.example) @everyone", 2),),
        model="m",
        dimension=4,
        index_factory="Flat",
        data_dir=Path("."),
        disk_bytes=0,
    )
    (outlets,) = [f for f in render_stats(stats).to_dict()["fields"] if f["name"] == "Outlets"]
    assert outlets["value"] == (
        "\\*\\*Evil\\*\\* \\[x\\](https\\://phish.example) @\u200beveryone (2)"
    )


def test_a_rendered_answer_still_reads_the_same() -> None:
    """Escaping adds only backslashes Discord hides and zero-width spaces."""
    _, quote = hostile_article()
    answer = make_answer([quote])
    description = render_answer(answer)[0].description or ""
    unescaped = re.sub(r"\\(.)", r"\1", description).replace("\u200b", "")
    visible = "".join(ch for ch in HOSTILE_QUOTE if ch not in INVISIBLE)
    assert unescaped == f"{visible} [1]"
