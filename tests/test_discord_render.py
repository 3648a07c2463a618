"""Discord rendering: answers, passages, search hits and source pages as embeds that
respect every Discord limit and cannot ping anyone. Pure functions, no Discord, no model."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import discord
import pytest

from bot.answers.citations import Quote, compose
from bot.answers.models import Answer, DateWindow, Source, Timings
from bot.discord.render import (
    LIMITS,
    render_answer,
    render_hits,
    render_passages,
    render_sources_page,
    split_text,
)
from bot.discord.text import format_day, neutralize_mentions, source_credit
from index.models import Article, Passage, SearchHit

NOTE = "… (answer shortened to fit Discord)"
MENTIONS = [re.compile(p) for p in (r"@everyone", r"@here", r"<@&\d+>", r"<@!?\d+>")]
MARKER_AT_END = re.compile(r"\[\d+\]$")
LINK = re.compile(r"\[(?P<text>[^\[\]\n]*)\]\((?P<url>[^()\s]+)\)")

# ---------------------------------------------------------------------------------------
# Building answers the way the service does: articles, passages, compose()


def make_article(
    article_id: int,
    title: str,
    sentences: Sequence[str],
    *,
    outlet: str | None = "Reuters",
    country: str | None = "GB",
    published: datetime | None = datetime(2025, 3, 4, 9, 30),
    url: str | None = "default",
) -> Article:
    return Article(
        id=article_id,
        key=f"key-{article_id}",
        title=title,
        text=" ".join(sentences),
        url=f"https://news.example/{article_id}" if url == "default" else url,
        outlet=outlet,
        published=published,
        country=country,
        language="en",
        author=None,
        source=f"mem:{article_id}",
        passage_count=1,
    )


def passage_of(article: Article) -> Passage:
    return Passage(
        id=article.id * 100,
        article_id=article.id,
        ordinal=0,
        start=0,
        end=len(article.text),
        text=article.text,
        sentences=(),
    )


def cite(article: Article, sentence: str) -> Quote:
    start = article.text.index(sentence)
    return Quote(article, passage_of(article), start, start + len(sentence))


def make_answer(
    quotes: Sequence[Quote],
    *,
    question: str = "What happened at the Cairo ceasefire talks?",
    window: DateWindow | None = None,
    **extra: Any,
) -> Answer:
    text, citations, sources = compose(quotes)
    return Answer(
        question=question,
        text=text,
        citations=citations,
        sources=sources,
        declined=False,
        window=window,
        timings=Timings(retrieve_ms=12.0, answer_ms=30.0, total_ms=42.0),
        **extra,
    )


def sentence(i: int, length: int = 200) -> str:
    """A distinct, realistic-looking sentence of about `length` characters."""
    words = (
        "officials said the delegation met mediators on monday to discuss a phased "
        "ceasefire, prisoner exchanges and humanitarian corridors along the border"
    ).split()
    out = [f"Report {i}:"]
    while len(" ".join(out)) < length - 1:
        out.append(words[len(out) % len(words)])
    return " ".join(out)[: length - 1].rstrip() + "."


PREFERRING = DateWindow(date(2024, 4, 15), date(2024, 4, 17), "15–17 Apr 2024", strict=False)
ONLY = DateWindow(date(2024, 3, 1), date(2024, 3, 31), "1 Mar 2024 – 31 Mar 2024", strict=True)


# ---------------------------------------------------------------------------------------
# Independent checks (deliberately not using the module's own helpers)


def counted(embed: discord.Embed) -> int:
    data = embed.to_dict()
    total = len(data.get("title", "")) + len(data.get("description", ""))
    for field in data.get("fields", []):
        total += len(field["name"]) + len(field["value"])
    total += len(data.get("footer", {}).get("text", ""))
    total += len(data.get("author", {}).get("name", ""))
    return total


def assert_within_limits(embeds: Sequence[discord.Embed]) -> None:
    assert 1 <= len(embeds) <= 10
    assert sum(counted(e) for e in embeds) <= 6000
    for embed in embeds:
        data = embed.to_dict()
        assert len(data.get("title", "")) <= 256
        assert len(data.get("description", "")) <= 4096
        fields = data.get("fields", [])
        assert len(fields) <= 25
        for field in fields:
            assert 1 <= len(field["name"]) <= 256
            assert 1 <= len(field["value"]) <= 1024
        assert len(data.get("footer", {}).get("text", "")) <= 2048


def all_text(embeds: Sequence[discord.Embed]) -> str:
    return "\n".join(json.dumps(e.to_dict(), ensure_ascii=False) for e in embeds)


def assert_no_mentions(text: str) -> None:
    for pattern in MENTIONS:
        assert not pattern.search(text), pattern.pattern


def source_lines(embeds: Sequence[discord.Embed], name: str = "Sources") -> list[str]:
    lines: list[str] = []
    for embed in embeds:
        for field in embed.to_dict().get("fields", []):
            if field["name"] in (name, f"{name} (cont.)"):
                lines.extend(field["value"].split("\n"))
    return lines


def listed_numbers(embeds: Sequence[discord.Embed], name: str = "Sources") -> set[int]:
    found = set()
    for line in source_lines(embeds, name):
        match = re.match(r"\[(\d+)\] ", line)
        assert match, line
        found.add(int(match.group(1)))
    return found


def descriptions(embeds: Sequence[discord.Embed]) -> list[str]:
    return [e.description or "" for e in embeds]


def kept_parts(embeds: Sequence[discord.Embed]) -> tuple[list[str], bool]:
    """The answer text of each embed, without the shortening note, and whether it was
    shortened."""
    parts = descriptions(embeds)
    shortened = parts[-1].endswith(NOTE)
    if shortened:
        parts[-1] = parts[-1][: -len(NOTE)].rstrip()
        if not parts[-1]:
            parts.pop()
    return parts, shortened


def assert_split_between_citations(answer: Answer, embeds: Sequence[discord.Embed]) -> None:
    """Every embed's text starts where a quote starts and ends right after a marker."""
    starts = {c.answer_start for c in answer.citations}
    ends = {c.answer_end + len(f" [{c.number}]") for c in answer.citations}
    parts, _ = kept_parts(embeds)
    position = 0
    for part in parts:
        assert MARKER_AT_END.search(part.strip()), part[-40:]
        at = answer.text.index(part, position)
        assert at in starts
        assert at + len(part) in ends
        position = at + len(part)


# ---------------------------------------------------------------------------------------
# Small helpers


def test_format_day_and_source_credit() -> None:
    assert format_day(date(2024, 4, 12)) == "12 Apr 2024"
    assert format_day(datetime(2025, 3, 4, 23, 59)) == "4 Mar 2025"
    assert format_day(None) == "undated"
    source = Source(1, 7, "T", "Reuters", "GB", datetime(2025, 3, 4), "https://x.example")
    assert source_credit(source) == "Reuters (GB), 4 Mar 2025"
    assert source_credit(replace(source, country=None)) == "Reuters, 4 Mar 2025"
    assert source_credit(replace(source, published=None)) == "Reuters (GB)"
    assert source_credit(replace(source, outlet=None, country=None, published=None)) == ""


def test_limits_are_discords() -> None:
    assert (LIMITS.content, LIMITS.embed_title, LIMITS.embed_description) == (2000, 256, 4096)
    assert (LIMITS.embed_fields, LIMITS.field_name, LIMITS.field_value) == (25, 256, 1024)
    assert (LIMITS.footer_text, LIMITS.author_name) == (2048, 256)
    assert (LIMITS.embed_total, LIMITS.embeds_per_message) == (6000, 10)


def test_len_of_embed_counts_what_discord_counts() -> None:
    embed = discord.Embed(title="t" * 3, description="d" * 5)
    embed.add_field(name="n" * 7, value="v" * 11)
    embed.set_footer(text="f" * 13)
    embed.set_author(name="a" * 17)
    assert len(embed) == counted(embed) == 3 + 5 + 7 + 11 + 13 + 17


def test_neutralize_mentions() -> None:
    hostile = "@everyone @here <@123456789012345678> <@!123456789012345678> <@&42> <#99>"
    safe = neutralize_mentions(hostile)
    assert_no_mentions(safe)
    assert safe.replace("\u200b", "") == hostile  # reads the same
    assert "<#99>" in safe  # channel links are harmless
    assert neutralize_mentions(safe) == safe
    assert neutralize_mentions("mail me at a@b.example") == "mail me at a@b.example"


# ---------------------------------------------------------------------------------------
# Answers


def two_source_answer(**extra: Any) -> Answer:
    talks = make_article(
        1,
        "Talks resume in Cairo",
        ["Negotiators met in Cairo on Monday.", "Mediators proposed a six-week truce."],
    )
    grain = make_article(
        2,
        "Grain exports rise",
        ["Ukraine exported more grain through Black Sea ports."],
        outlet="AP",
        country="US",
        published=datetime(2024, 4, 16),
    )
    quotes = [
        cite(talks, "Negotiators met in Cairo on Monday."),
        cite(talks, "Mediators proposed a six-week truce."),
        cite(grain, "Ukraine exported more grain through Black Sea ports."),
    ]
    return make_answer(quotes, **extra)


def test_normal_answer_is_one_embed() -> None:
    answer = two_source_answer(window=PREFERRING)
    embeds = render_answer(answer)
    assert len(embeds) == 1
    (embed,) = embeds
    assert_within_limits(embeds)
    assert embed.title == answer.question
    assert embed.description == answer.text
    assert embed.colour is not None and embed.colour.value != 0
    fields = embed.to_dict()["fields"]
    assert [f["name"] for f in fields] == ["Sources"]
    assert fields[0]["value"].split("\n") == [
        "[1] [Talks resume in Cairo](https://news.example/1) — Reuters (GB), 4 Mar 2025",
        "[2] [Grain exports rise](https://news.example/2) — AP (US), 16 Apr 2024",
    ]
    footer = embed.footer.text or ""
    assert "Dates: preferring 15–17 Apr 2024" in footer
    assert "extractive · every sentence quoted · 42 ms" in footer


def test_footer_strict_window_coverage_and_without_method() -> None:
    answer = two_source_answer(
        window=ONLY, kind="topic_summary", coverage=(date(2024, 1, 3), date(2024, 4, 12))
    )
    footer = render_answer(answer)[0].footer.text or ""
    assert "Dates: only 1 Mar 2024 – 31 Mar 2024" in footer
    assert "Sources cover 3 Jan – 12 Apr 2024" in footer
    bare = render_answer(answer, show_method=False)[0].footer.text or ""
    assert "every sentence quoted" not in bare and "ms" not in bare
    assert "Sources cover" in bare


def test_long_question_title_is_trimmed() -> None:
    question = "Why " + " ".join(["did the negotiations"] * 30) + " fail?"
    assert len(question) > 500
    embeds = render_answer(two_source_answer(question=question))
    title = embeds[0].title or ""
    assert len(title) <= 256 and title.endswith("…")
    assert question.startswith(title[:-1].rstrip())
    assert_within_limits(embeds)


def test_answer_a_little_too_long_for_one_embed_is_split_but_not_shortened() -> None:
    articles = [
        make_article(i, f"Article {i}", [sentence(i * 100 + j) for j in range(9)])
        for i in range(1, 4)
    ]
    quotes = [cite(a, sentence(a.id * 100 + j)) for a in articles for j in range(8)]
    answer = make_answer(quotes)
    assert 4096 < len(answer.text) < 5500
    embeds = render_answer(answer)
    assert len(embeds) == 2
    assert_within_limits(embeds)
    parts, shortened = kept_parts(embeds)
    assert not shortened
    assert embeds[1].title is None  # a continuation
    assert_split_between_citations(answer, embeds)
    assert "".join(parts).replace("\n", "").replace(" ", "") == answer.text.replace(
        "\n", ""
    ).replace(" ", "")
    # Sources and footer live on the last embed only.
    assert not embeds[0].fields and embeds[0].footer.text is None
    assert listed_numbers(embeds) == {1, 2, 3}


def test_long_answer_is_split_and_shortened_within_limits() -> None:
    articles = [
        make_article(i, f"Ceasefire coverage part {i}", [sentence(i * 10), sentence(i * 10 + 1)])
        for i in range(1, 31)
    ]
    quotes = [cite(a, sentence(a.id * 10 + j)) for a in articles for j in range(2)]
    answer = make_answer(quotes)
    assert len(answer.citations) == 60 and len(answer.text) > 12_000
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    assert len(embeds) >= 2
    parts, shortened = kept_parts(embeds)
    assert shortened
    assert_split_between_citations(answer, embeds)
    kept_numbers = {int(n) for n in re.findall(r"\[(\d+)\]", "\n".join(parts))}
    assert kept_numbers and kept_numbers <= listed_numbers(embeds)
    # Sources of dropped sentences are not listed.
    assert listed_numbers(embeds) == kept_numbers


def test_single_huge_quote_is_cut_before_its_marker() -> None:
    huge = " ".join(["The ministry published a very long statement"] * 120) + "."
    assert len(huge) > 4096
    article = make_article(1, "Statement", [huge])
    answer = make_answer([cite(article, huge)])
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    description = embeds[0].description or ""
    assert description.endswith("… [1]")
    assert huge.startswith(description[: -len("… [1]")])
    assert listed_numbers(embeds) == {1}


def test_huge_quote_next_to_longest_title_and_footer_still_fits() -> None:
    huge = " ".join(["word"] * 1500) + "."
    long_url = "https://news.example/" + "x" * 400
    article = make_article(1, "T" * 600, [huge], outlet="O" * 300, url=long_url)
    answer = make_answer(
        [cite(article, huge)],
        question="Q " * 400,
        window=PREFERRING,
        notes=tuple("n" * 300 + f" {i}" for i in range(10)),
    )
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    assert (embeds[-1].description or "").endswith("… [1]")
    assert listed_numbers(embeds) == {1}


def test_huge_quotes_after_a_short_one_are_kept_or_dropped_whole() -> None:
    huge = " ".join(["word"] * 1500) + "."
    other = " ".join(["more"] * 1500) + "."
    short = make_article(1, "Short", ["A short sentence."])
    first, second = make_article(2, "Long", [huge]), make_article(3, "Longer", [other])
    answer = make_answer([cite(short, "A short sentence."), cite(first, huge), cite(second, other)])
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    parts, shortened = kept_parts(embeds)
    assert shortened
    assert parts[0] == "A short sentence. [1]"
    assert parts[1].endswith("… [2]")  # cut to one description, marker kept
    assert listed_numbers(embeds) == {1, 2}  # [3] was dropped with its sentence


def test_forty_sources_are_split_across_fields() -> None:
    articles = [
        make_article(i, f"Brief {i}", [f"Item {i} was reported."], url=f"https://n.example/{i}")
        for i in range(1, 41)
    ]
    answer = make_answer([cite(a, f"Item {a.id} was reported.") for a in articles])
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    fields = [f for e in embeds for f in e.to_dict().get("fields", [])]
    assert len(fields) >= 2
    assert fields[0]["name"] == "Sources"
    assert all(f["name"] == "Sources (cont.)" for f in fields[1:])
    assert all(len(f["value"]) <= 1024 for f in fields)
    assert listed_numbers(embeds) == set(range(1, 41))
    assert not kept_parts(embeds)[1]  # nothing dropped


def hostile_answer() -> Answer:
    quote = (
        "Hi @everyone and @here, <@123456789012345678> and <@!123456789012345678> "
        "and <@&123456789012345678> were named."
    )
    article = make_article(
        1,
        "@everyone look <@&123456789012345678> <@123456789012345678>",
        [quote],
        outlet="@here News",
        url="https://news.example/@everyone/<@123456789012345678>",
    )
    return make_answer(
        [cite(article, quote)],
        question="what did @everyone say about <@&123456789012345678>?",
        notes=("asked by <@123456789012345678> @here",),
    )


def test_hostile_text_cannot_ping() -> None:
    answer = hostile_answer()
    rendered = [
        *render_answer(answer),
        *render_passages(answer),
        *render_answer(replace(answer, declined=True, citations=())),
    ]
    assert_no_mentions(all_text(rendered))
    assert "everyone" in all_text(rendered)  # still readable


def test_hostile_hits_and_sources_cannot_ping() -> None:
    answer = hostile_answer()
    article = make_article(
        9,
        "@everyone <@&123456789012345678>",
        ["Ping @here <@!123456789012345678>."],
        outlet="<@123456789012345678>",
        url="https://x.example/@here",
    )
    hit = SearchHit(passage=passage_of(article), article=article, score=1.0, rank=1)
    embeds = [
        *render_hits("@everyone <@123456789012345678>", [hit]),
        render_sources_page([article], page=1, pages=1, total=1),
    ]
    assert_no_mentions(all_text(embeds))
    assert_no_mentions("\n".join(split_text(neutralize_mentions(answer.text), 30)))


@pytest.mark.parametrize(
    "title",
    ["Iran] strikes (update)", "Talks [live]) resume", "Odd \\] title`s ]( trick", "))]]"],
)
def test_titles_with_brackets_still_make_links(title: str) -> None:
    url = "https://news.example/path (with) [brackets]/a b"
    article = make_article(1, title, ["Something happened."], url=url)
    embeds = render_answer(make_answer([cite(article, "Something happened.")]))
    (line,) = source_lines(embeds)
    match = LINK.search(line)
    assert match, line
    assert line.startswith("[1] [")
    assert match.group("url") == "https://news.example/path%20%28with%29%20%5Bbrackets%5D/a%20b"
    assert match.group("text")


def test_source_without_url_or_with_unsafe_url_is_plain_title() -> None:
    for url in (None, "javascript:alert(1)", "ftp://files.example/a"):
        article = make_article(1, "Plain title", ["Something happened."], url=url)
        embeds = render_answer(make_answer([cite(article, "Something happened.")]))
        assert source_lines(embeds) == ["[1] Plain title — Reuters (GB), 4 Mar 2025"]


def test_answer_text_without_citations_is_split_at_markers() -> None:
    text = " ".join(f"{sentence(i, 300)} [{i % 3 + 1}]" for i in range(25))
    sources = tuple(
        Source(n, n, f"Title {n}", "AP", None, None, f"https://a.example/{n}") for n in (1, 2, 3)
    )
    answer = Answer("q", text, (), sources, False, None, Timings())
    embeds = render_answer(answer)
    assert_within_limits(embeds)
    parts, _ = kept_parts(embeds)
    assert len(parts) >= 2
    assert all(MARKER_AT_END.search(p) for p in parts)
    assert listed_numbers(embeds) == {1, 2, 3}


def test_answer_without_text_but_many_sources_fits() -> None:
    sources = tuple(
        Source(n, n, "A long title " * 10, "Outlet", "GB", None, "https://x.example/" + "p" * 200)
        for n in range(1, 201)
    )
    embeds = render_answer(Answer("q", "", (), sources, False, None, Timings()))
    assert_within_limits(embeds)
    assert 1 in listed_numbers(embeds)


# ---------------------------------------------------------------------------------------
# Declined answers


def test_declined_answer() -> None:
    closest = two_source_answer().sources
    answer = Answer(
        question="Who won the 2031 election?",
        text="The articles do not say who won the 2031 election.",
        citations=(),
        sources=closest,
        declined=True,
        window=None,
        timings=Timings(total_ms=17),
        notes=("internal: low score",),
    )
    (embed,) = render_answer(answer)
    assert embed.description == answer.text
    assert embed.title == answer.question
    fields = embed.to_dict()["fields"]
    assert [f["name"] for f in fields] == ["Closest sources"]
    assert listed_numbers([embed], "Closest sources") == {1, 2}
    assert "no answer found" in (embed.footer.text or "")
    assert "internal" not in (embed.footer.text or "")
    assert embed.colour != render_answer(two_source_answer())[0].colour

    (bare,) = render_answer(replace(answer, sources=()))
    assert not bare.fields

    many = tuple(
        Source(n, n, "A fairly long article title " * 4, "Outlet", "GB", None, "https://x.example")
        for n in range(1, 101)
    )
    huge = render_answer(replace(answer, sources=many, text="No. " * 2000))
    assert_within_limits(huge)


# ---------------------------------------------------------------------------------------
# Passages


def test_passages_one_field_per_citation() -> None:
    answer = two_source_answer()
    embeds = render_passages(answer)
    assert_within_limits(embeds)
    fields = [f for e in embeds for f in e.to_dict().get("fields", [])]
    assert [f["value"] for f in fields] == [c.quote for c in answer.citations]
    assert fields[0]["name"] == "[1] Talks resume in Cairo — Reuters (GB), 4 Mar 2025"
    assert fields[2]["name"].startswith("[2] Grain exports rise — AP (US)")


def test_passages_respect_limits() -> None:
    long_quotes = make_article(
        1, "L" * 400, [sentence(i, 1500) for i in range(60)], outlet="O" * 200
    )
    answer = make_answer([cite(long_quotes, sentence(i, 1500)) for i in range(60)])
    embeds = render_passages(answer)
    assert_within_limits(embeds)
    values = [f["value"] for e in embeds for f in e.to_dict().get("fields", [])]
    assert values and all(v.endswith("…") for v in values)
    assert "more passages not shown" in (embeds[-1].footer.text or "")

    many = make_article(2, "Short", [f"Fact {i}." for i in range(60)])
    answer = make_answer([cite(many, f"Fact {i}.") for i in range(60)])
    embeds = render_passages(answer)
    assert_within_limits(embeds)
    assert len(embeds) >= 3  # 25 fields per embed
    assert sum(len(e.fields) for e in embeds) == 60


def test_passages_of_declined_answer() -> None:
    answer = replace(two_source_answer(), declined=True, citations=())
    embeds = render_passages(answer)
    assert_within_limits(embeds)
    assert "no passages" in (embeds[0].description or "")


# ---------------------------------------------------------------------------------------
# Search hits and source pages


def test_hits() -> None:
    article = make_article(
        3, "Talks resume", ["Negotiators met in Cairo. " * 40], outlet="AP", country="US"
    )
    hits = [
        SearchHit(passage=passage_of(article), article=article, score=0.9, rank=1),
        SearchHit(
            passage=passage_of(article),
            article=replace(article, url=None, outlet=None),
            score=0.8,
            rank=2,
        ),
    ]
    (embed,) = render_hits("cairo talks", hits)
    assert_within_limits([embed])
    assert embed.title == "Search: cairo talks"
    first, second = embed.to_dict()["fields"]
    assert first["name"] == "1. Talks resume"
    header, snippet = first["value"].split("\n")
    assert header == "AP (US), 4 Mar 2025 · [link](https://news.example/3)"
    assert snippet.startswith("> Negotiators met in Cairo.")
    assert len(snippet) <= 2 + 300 and snippet.endswith("…")
    assert second["value"].startswith("US, 4 Mar 2025\n> ")  # no outlet, no link

    (empty,) = render_hits("nothing", [])
    assert empty.description


def test_many_long_hits_fit() -> None:
    article = make_article(
        1, "T" * 500, [sentence(1, 3000)], outlet="O" * 500, url="https://x.example/" + "p" * 450
    )
    hits = [
        SearchHit(passage=passage_of(article), article=article, score=1.0, rank=i)
        for i in range(1, 41)
    ]
    embeds = render_hits("q" * 400, hits)
    assert_within_limits(embeds)
    assert "more hits not shown" in (embeds[0].footer.text or "")


def test_sources_page() -> None:
    articles = [
        make_article(10, "Talks resume", ["x"], outlet="AP"),
        make_article(11, "No link [draft]", ["x"], outlet=None, url=None, published=None),
    ]
    embed = render_sources_page(articles, page=2, pages=7, total=64)
    assert embed.title == "Sources (page 2/7, 64 articles)"
    assert (embed.description or "").split("\n") == [
        "`10` 4 Mar 2025 · AP · [Talks resume](https://news.example/10)",
        "`11` undated · No link (draft)",
    ]
    assert render_sources_page([], page=1, pages=1, total=0).description


def test_sources_page_with_long_lines_fits() -> None:
    articles = [
        make_article(i, "T" * 300, ["x"], outlet="O" * 200, url="https://x.example/" + "p" * 400)
        for i in range(50)
    ]
    embed = render_sources_page(articles, page=1, pages=1, total=50)
    assert_within_limits([embed])
    assert (embed.description or "").endswith(
        "articles on this page not shown (Discord's size limits)"
    )


# ---------------------------------------------------------------------------------------
# split_text


def cited_text(rng: random.Random, length: int) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < length:
        words = " ".join(rng.choice(["war", "talks", "ceasefire", "in", "the"]) for _ in range(20))
        parts.append(f"{words.capitalize()}. [{rng.choice([3, 12, 104])}]")
        if rng.random() < 0.2:
            parts[-1] += "\n\n"
    return " ".join(parts)


def test_split_text_on_cited_text() -> None:
    text = cited_text(random.Random(1), 5000)
    parts = split_text(text)
    assert len(parts) >= 3
    assert all(len(p) <= 2000 for p in parts)
    assert all(MARKER_AT_END.search(p) for p in parts)  # cut right after markers
    assert re.findall(r"\[\d+\]", text) == re.findall(r"\[\d+\]", "\n".join(parts))
    assert "".join(text.split()) == "".join("".join(parts).split())


def test_split_text_prefers_paragraphs_then_sentences_then_spaces() -> None:
    paragraph = "A sentence here. " * 50
    text = paragraph.strip() + "\n\n" + paragraph.strip()
    assert split_text(text, 1000) == [paragraph.strip(), paragraph.strip()]
    sentences = split_text("One two three. Four five six seven eight.", 20)
    assert sentences[0] == "One two three."
    words = split_text("alpha beta gamma delta", 12)
    assert words == ["alpha beta", "gamma delta"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("   ") == []
    assert split_text("short") == ["short"]


def test_split_text_never_separates_a_quote_from_its_marker() -> None:
    # The only spaces in reach stand before a marker: cut elsewhere instead.
    text = "a" * 15 + " [12]" + "b" * 30
    for part in split_text(text, 22):
        assert len(part) <= 22
        assert "[1" not in part or "[12]" in part


@pytest.mark.parametrize("seed", range(40))
def test_split_text_property(seed: int) -> None:
    rng = random.Random(seed)
    limit = rng.choice([40, 100, 300, 2000])
    text = cited_text(rng, rng.randint(0, 6000))
    if rng.random() < 0.3:
        text = text.replace(" ", "")  # no spaces at all: hard cuts
    parts = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert "".join(text.split()) == "".join("".join(parts).split())
    assert re.findall(r"\[\d+\]", text) == re.findall(r"\[\d+\]", "\n".join(parts))


# ---------------------------------------------------------------------------------------
# Property: random answers always render within every limit (hypothesis is not installed,
# so seeded random cases stand in for it)


HOSTILE = ["@everyone", "@here", "<@123456789012345678>", "<@!1>", "<@&42>", "]", ")", "[", "("]


def random_text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        if rng.random() < 0.05:
            words.append(rng.choice(HOSTILE))
        else:
            words.append("x" * rng.randint(1, 12) if rng.random() < 0.9 else "y" * 300)
    return " ".join(words)[: max(length, 1)].strip() or "x"


def random_answer(rng: random.Random) -> Answer:
    n_sources = rng.randint(1, 50)
    articles = []
    for i in range(1, n_sources + 1):
        sentences = [
            random_text(rng, rng.choice([5, 80, 200, 900, 5000])) + f" s{i}-{j}."
            for j in range(rng.randint(1, 4))
        ]
        articles.append(
            make_article(
                i,
                random_text(rng, rng.choice([5, 100, 600])),
                sentences,
                outlet=rng.choice([None, "AP", "@here " + "O" * rng.randint(0, 300)]),
                country=rng.choice([None, "GB"]),
                published=rng.choice([None, datetime(2024, 1, 2)]),
                url=rng.choice(
                    [None, "https://a.example/x(y)", "https://a.example/" + "p" * 700, "mailto:x"]
                ),
            )
        )
    quotes = []
    for _ in range(rng.randint(1, 80)):
        article = rng.choice(articles)
        sentences = [s.strip() for s in re.split(r"(?<=\.)\s(?=\S)", article.text) if s]
        chosen = rng.choice(sentences)
        if chosen in article.text:
            quotes.append(cite(article, chosen))
    return make_answer(
        quotes,
        question=random_text(rng, rng.choice([3, 100, 1000])),
        window=rng.choice([None, PREFERRING, ONLY]),
        coverage=rng.choice([None, (date(2024, 1, 3), date(2024, 1, 3)), (None, None)]),
        notes=tuple(random_text(rng, rng.choice([10, 900])) for _ in range(rng.randint(0, 4))),
        method=rng.choice(["extractive", "m" * 500]),
    )


@pytest.mark.parametrize("seed", range(150))
def test_random_answers_render_within_limits(seed: int) -> None:
    rng = random.Random(seed)
    answer = random_answer(rng)
    embeds = render_answer(answer, show_method=rng.random() < 0.8)
    assert_within_limits(embeds)
    assert_no_mentions(all_text(embeds))
    parts, _ = kept_parts(embeds)
    assert all(MARKER_AT_END.search(p.strip()) for p in parts)
    # Every number shown in the kept text is listed (sources of dropped sentences may go).
    kept_numbers = {int(n) for n in re.findall(r"\[(\d+)\]", "\n".join(parts))}
    assert kept_numbers <= listed_numbers(embeds)
    assert 1 in listed_numbers(embeds)  # the first sentence is never dropped

    assert_within_limits(render_passages(answer))
    assert_no_mentions(all_text(render_passages(answer)))
    declined = replace(answer, declined=True, citations=())
    assert_within_limits(render_answer(declined))
