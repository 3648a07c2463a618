"""Tests of the article parsers (index/sources/)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from index.errors import BadInputError
from index.models import FailedInput, ParseResult
from index.sources.dates import parse_published
from index.sources.files import SUPPORTED_SUFFIXES, iter_input_paths, parse_file
from index.sources.scraped_text import parse_text

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = REPO_ROOT / "seeds" / "000_f5aa29004a3adc0e.txt"
SEED_TITLE = (
    "Upcoming trilateral meeting captures attention amid U.S.-Japan coalition vs. "
    "China-N. Korea partnership"
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def assert_clean(text: str) -> None:
    """The invariants every stored text keeps, whatever the input format."""
    assert text == text.strip()
    assert "\n\n\n" not in text
    for paragraph in paragraphs(text):
        assert paragraph, "empty paragraph"
        assert "\n" not in paragraph
        assert "\u00a0" not in paragraph
        assert "\t" not in paragraph
        assert "  " not in paragraph
        assert paragraph == paragraph.strip()


# --------------------------------------------------------------------------------------
# The seed article
# --------------------------------------------------------------------------------------


def test_seed_article_parses_exactly() -> None:
    result = parse_file(SEED)

    assert result.failures == ()
    (article,) = result.articles
    assert article.title == SEED_TITLE
    assert article.published == datetime(2024, 4, 12, 7, 53)
    assert article.published.tzinfo is None
    assert article.source == str(SEED)
    assert article.outlet is None
    assert article.url is None

    body = paragraphs(article.text)
    assert len(body) == 4
    assert body[0].startswith(
        "U.S. President Joe Biden and Japanese Prime Minister Fumio Kishida agreed"
    )
    assert body[-1].endswith("than at any other time before.")
    for paragraph in body:
        assert "Go to contents" not in paragraph
        assert not paragraph.startswith(("Posted", "Updated"))
        assert SEED_TITLE not in paragraph
    # Curly apostrophes are kept as written: answers quote the text verbatim.
    assert "China’s third highest-ranking official" in article.text
    assert_clean(article.text)


def test_seed_parse_text_matches_parse_file() -> None:
    raw = SEED.read_text(encoding="utf-8")
    assert parse_text(raw, source=str(SEED)) == parse_file(SEED).articles[0]


# --------------------------------------------------------------------------------------
# Scraped plain text
# --------------------------------------------------------------------------------------

REUTERS_STYLE = """Skip to main content
Menu

World leaders gather in Geneva for climate talks
By Jane Doe and John Roe, Reuters
Published: 5 January 2023
Updated 3:04 PM EST, Thu January 5, 2023

GENEVA (Reuters) - World leaders gathered on Thursday in a bid to rescue
stalled climate talks, officials said.

Advertisement

Share your thoughts with the delegation, the chair told reporters, adding
that the Share of renewables must double.

ADVERTISEMENT

Copyright law was not on the agenda, one delegate said.

The talks continue next week.

Share this article

Related articles
Climate fund hits record
Talks stall again

© 2023 Reuters. All rights reserved.
Follow us on Twitter
"""


def test_scraped_text_with_boilerplate_byline_and_dates() -> None:
    article = parse_text(REUTERS_STYLE, source="geneva.txt")

    assert article.title == "World leaders gather in Geneva for climate talks"
    assert article.author == "Jane Doe and John Roe"
    assert article.outlet is None  # never taken from a byline
    # "Published" wins over the later "Updated" line.
    assert article.published == datetime(2023, 1, 5)
    assert paragraphs(article.text) == [
        "GENEVA (Reuters) - World leaders gathered on Thursday in a bid to rescue stalled "
        "climate talks, officials said.",
        "Share your thoughts with the delegation, the chair told reporters, adding that the "
        "Share of renewables must double.",
        "Copyright law was not on the agenda, one delegate said.",
        "The talks continue next week.",
    ]
    assert article.source == "geneva.txt"
    assert_clean(article.text)


def test_repeated_title_with_different_whitespace_is_dropped() -> None:
    raw = (
        "ADVERTISEMENT\n"
        "Central bank   raises rates\n"
        "\n"
        "\n"
        "Central\u00a0bank raises\trates\n"
        "\n"
        "January 5, 2023\n"
        "\n"
        "The central bank raised rates by half a point on Thursday.\n"
        "\n"
        "Copyright 2023 Example News\n"
    )
    article = parse_text(raw, source="s")

    assert article.title == "Central bank raises rates"
    assert article.published == datetime(2023, 1, 5)
    assert article.text == "The central bank raised rates by half a point on Thursday."


def test_updated_line_is_only_a_fallback_for_the_publication_date() -> None:
    only_updated = "Title of the story\nUpdated April. 12, 2024 07:53\n\nBody text here."
    updated_first = (
        "Updated 2024-04-13 09:00\nTitle of the story\nPosted April. 12, 2024 07:53,\n\nBody."
    )

    assert parse_text(only_updated, source="a").published == datetime(2024, 4, 12, 7, 53)
    assert parse_text(updated_first, source="b").published == datetime(2024, 4, 12, 7, 53)


@pytest.mark.parametrize(
    ("date_line", "expected"),
    [
        ("Posted April. 12, 2024 07:53,\u00a0\u00a0 ", datetime(2024, 4, 12, 7, 53)),
        ("Published: 5 January 2023", datetime(2023, 1, 5)),
        ("January 5, 2023", datetime(2023, 1, 5)),
        ("2023-01-05 10:00", datetime(2023, 1, 5, 10, 0)),
        ("Thu January 5, 2023", datetime(2023, 1, 5)),
        ("Published 5 Jan 2023 | Updated 6 Jan 2023", datetime(2023, 1, 5)),
        ("Posted on Jan. 5, 2023 at 3 p.m.", datetime(2023, 1, 5, 15, 0)),
        # EST is UTC-5: aware times are stored in UTC.
        ("Updated 3:04 PM EST, Thu January 5, 2023", datetime(2023, 1, 5, 20, 4)),
    ],
)
def test_date_line_spellings(date_line: str, expected: datetime) -> None:
    raw = f"Markets close higher\n\n{date_line}\n\nStocks rose on Thursday after a calm session."
    article = parse_text(raw, source="s")

    assert article.title == "Markets close higher"
    assert article.published == expected
    assert article.text == "Stocks rose on Thursday after a calm session."


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("BY JANE DOE", "JANE DOE"),
        ("By Jane Doe and John Roe, Reuters", "Jane Doe and John Roe"),
        ("By Jane Doe, John Roe and Ana de la Cruz", "Jane Doe, John Roe and Ana de la Cruz"),
        ("By Jane Doe | Staff Writer", "Jane Doe"),
        ("Jane Doe, CNN", "Jane Doe"),
        ("Dan Vergano, USA TODAY", "Dan Vergano"),
    ],
)
def test_byline_spellings(byline: str, author: str) -> None:
    raw = f"Storm hits the coast\n{byline}\n\nThe storm made landfall overnight."
    article = parse_text(raw, source="s")

    assert article.author == author
    assert article.text == "The storm made landfall overnight."


def test_sentence_starting_with_by_is_body_not_byline() -> None:
    raw = "Suspect escapes\n\nBy the time the police arrived, the suspect had fled.\n\nMore."
    article = parse_text(raw, source="s")

    assert article.author is None
    assert paragraphs(article.text)[0] == "By the time the police arrived, the suspect had fled."


def test_boilerplate_words_inside_sentences_survive() -> None:
    raw = (
        "Shares slide\n\n"
        "Share prices fell. Advertisement spending is down and readers subscribe less.\n\n"
        "Read more about it in the annual report, the company said.\n"
    )
    article = parse_text(raw, source="s")

    assert paragraphs(article.text) == [
        "Share prices fell. Advertisement spending is down and readers subscribe less.",
        "Read more about it in the annual report, the company said.",
    ]


def test_promotional_lines_go_but_a_headline_that_starts_alike_stays() -> None:
    raw = (
        "Sign up deadline for health plans extended\n\n"
        "Officials extended the deadline by two weeks.\n\n"
        "Subscribe to Example News today. What are you waiting for?\n"
        "Sign up for our morning newsletter.\n"
    )
    article = parse_text(raw, source="s")

    assert article.title == "Sign up deadline for health plans extended"
    assert article.text == "Officials extended the deadline by two weeks."


def test_whole_line_boilerplate_in_the_middle_is_removed_without_joining_paragraphs() -> None:
    long_first = "First paragraph " + "is long " * 20 + "and ends here."
    long_second = "Second paragraph " + "is long " * 20 + "and ends here."
    raw = f"Title line\n\n{long_first}\nAdvertisement\n{long_second}\nShare\n\n* * *\n\nEnd."
    article = parse_text(raw, source="s")

    assert paragraphs(article.text) == [long_first, long_second, "End."]


def test_whitespace_normalisation() -> None:
    raw = (
        "Headline here\n\n"
        "This is a hard-wrapped\n"
        "paragraph\u00a0with\tNBSP and  tabs\n"
        "that ends here.\n"
        "\n\n\n"
        "  “Quoted,” she said — and left.  \n"
    )
    article = parse_text(raw, source="s")

    assert article.text == (
        "This is a hard-wrapped paragraph with NBSP and tabs that ends here.\n\n"
        "“Quoted,” she said — and left."
    )


def test_long_lines_separated_by_single_newlines_are_separate_paragraphs() -> None:
    first = "One paragraph per line, " + "as many scrapers write them, " * 5 + "ends."
    second = "Another long paragraph " + "that was never hard-wrapped by anyone, " * 4 + "ends."
    article = parse_text(f"Headline\n{first}\n{second}\n", source="s")

    assert paragraphs(article.text) == [first, second]


def test_text_without_a_headline_keeps_its_first_sentence() -> None:
    raw = (
        "U.S. officials said on Monday that the talks had stalled. "
        "Negotiators will meet again in March.\n\nA second paragraph."
    )
    article = parse_text(raw, source="s")

    assert article.title == "U.S. officials said on Monday that the talks had stalled"
    assert paragraphs(article.text)[0].startswith("U.S. officials said on Monday")


def test_derived_title_is_cut_to_about_100_characters() -> None:
    sentence = "Officials " + "met again and again " * 12 + "to settle the long dispute."
    article = parse_text(sentence, source="s")

    assert len(article.title) <= 101
    assert article.title.endswith("…")
    assert sentence.startswith(article.title[:-1])
    assert article.text == sentence


def test_dateline_before_first_paragraph_is_dropped() -> None:
    article = parse_text(
        "Diwali goes mainstream\n\nNew York CNN Business —\n\nDiwali is everywhere.", source="s"
    )
    assert article.text == "Diwali is everywhere."


def test_headline_only_page_keeps_headline_as_text() -> None:
    article = parse_text("Go to contents\n\nJust a headline\n", source="s")

    assert article.title == "Just a headline"
    assert article.text == "Just a headline"


@pytest.mark.parametrize(
    "raw",
    ["", "   \n\n", "Go to contents\n\nShare\n\nAdvertisement\n", "© 2024 Example\n---\n"],
)
def test_text_with_nothing_left_is_an_error(raw: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_text(raw, source="nothing.txt")
    assert caught.value.source == "nothing.txt"
    assert caught.value.reason == "no article text found"


def test_crlf_line_endings() -> None:
    article = parse_text("Title\r\n\r\nLine one\r\nline two.\r\n\r\nNext.", source="s")
    assert article.text == "Line one line two.\n\nNext."


# --------------------------------------------------------------------------------------
# Front matter and Markdown
# --------------------------------------------------------------------------------------

YAML_ARTICLE = """---
title: "Seoul: a summit of three"
url: https://example.com/summit
source: 'Example Times'
date: 2023-01-05T10:00:00+02:00
country: kr
lang: en
authors:
  - Jane Doe
  - John Roe
tags: [diplomacy, asia]   # unknown keys are ignored
---
# Seoul: a summit of three

Leaders met in Seoul.
"""


def test_yaml_front_matter(tmp_path: Path) -> None:
    (article,) = parse_file(write(tmp_path, "summit.md", YAML_ARTICLE)).articles

    assert article.title == "Seoul: a summit of three"
    assert article.url == "https://example.com/summit"
    assert article.outlet == "Example Times"
    assert article.published == datetime(2023, 1, 5, 8, 0)
    assert article.country == "KR"
    assert article.language == "en"
    assert article.author == "Jane Doe, John Roe"
    # The heading repeats the front-matter title, so it is not part of the body.
    assert article.text == "Leaders met in Seoul."


def test_yaml_front_matter_aliases_and_flow_list(tmp_path: Path) -> None:
    raw = (
        "---\n"
        "title: It's 'quoted'\n"
        "link: https://example.com/x\n"
        "publisher: Daily Example\n"
        "published_at: Jan 5, 2023\n"
        "country: Germany\n"
        "language: de\n"
        'byline: ["Ana Lopez", Ben Ng]\n'
        "---\n"
        "Body text.\n"
    )
    (article,) = parse_file(write(tmp_path, "a.txt", raw)).articles

    assert article.title == "It's 'quoted'"
    assert article.url == "https://example.com/x"
    assert article.outlet == "Daily Example"
    assert article.published == datetime(2023, 1, 5)
    assert article.country == "Germany"
    assert article.language == "de"
    assert article.author == "Ana Lopez, Ben Ng"
    assert article.text == "Body text."


def test_yaml_front_matter_nested_author_and_folded_text(tmp_path: Path) -> None:
    raw = (
        "---\n"
        "title: >\n"
        "  A folded\n"
        "  headline\n"
        "author:\n"
        "  name: Jane Doe\n"
        "  email: jane@example.com\n"
        "date: '2023-01-05'\n"
        "---\n"
        "Body.\n"
    )
    (article,) = parse_file(write(tmp_path, "n.md", raw)).articles

    assert article.title == "A folded headline"
    assert article.author == "Jane Doe"
    assert article.published == datetime(2023, 1, 5)


def test_toml_front_matter(tmp_path: Path) -> None:
    raw = (
        "+++\n"
        'title = "TOML title"\n'
        "published = 2023-01-05T10:00:00Z\n"
        'authors = ["A B", "C D"]\n'
        'country = "jp"\n'
        'site = "Example Wire"\n'
        "+++\n\n"
        "Body of the article.\n"
    )
    (article,) = parse_file(write(tmp_path, "t.md", raw)).articles

    assert article.title == "TOML title"
    assert article.published == datetime(2023, 1, 5, 10, 0)
    assert article.author == "A B, C D"
    assert article.country == "JP"
    assert article.outlet == "Example Wire"
    assert article.text == "Body of the article."


def test_toml_front_matter_with_a_local_date(tmp_path: Path) -> None:
    raw = '+++\ntitle = "T"\ndate = 2023-01-05\n+++\nBody.\n'
    (article,) = parse_file(write(tmp_path, "t.md", raw)).articles
    assert article.published == datetime(2023, 1, 5)


def test_invalid_toml_front_matter_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", '+++\ntitle = "unclosed\n+++\nBody.\n')
    with pytest.raises(BadInputError) as caught:
        parse_file(path)
    assert caught.value.reason.startswith("invalid TOML front matter")


def test_leading_rule_without_key_values_is_not_front_matter() -> None:
    raw = "---\nJust a sentence between rules.\n---\n\nMore text."
    article = parse_text(raw, source="s")
    assert article.text == "Just a sentence between rules.\n\nMore text."


MARKDOWN_ARTICLE = """# Seoul hosts *trilateral* summit

<!-- editor: check the quote below -->
![Leaders shaking hands](https://example.com/photo.jpg)

*Published 5 January 2023*

Leaders from **South Korea**, _Japan_ and [China](https://example.com/china) met
in Seoul on `Monday`. Prices rose 2*3 percent and snake_case_names stay.

## Background

- First point
- Second point with a [reference link][1]

> A quoted passage.

Escaped \\*stars\\* remain.

[1]: https://example.com/ref
"""


def test_markdown_cleanup(tmp_path: Path) -> None:
    (article,) = parse_file(write(tmp_path, "m.markdown", MARKDOWN_ARTICLE)).articles

    assert article.title == "Seoul hosts trilateral summit"
    assert article.published == datetime(2023, 1, 5)
    assert paragraphs(article.text) == [
        "Leaders from South Korea, Japan and China met in Seoul on Monday. "
        "Prices rose 2*3 percent and snake_case_names stay.",
        "Background",
        "First point",
        "Second point with a reference link",
        "A quoted passage.",
        "Escaped *stars* remain.",
    ]
    assert_clean(article.text)


def test_markdown_is_not_applied_to_plain_text() -> None:
    article = parse_text("Title\n\nThe *starred* word stays as written.", source="s")
    assert article.text == "The *starred* word stays as written."


# --------------------------------------------------------------------------------------
# JSON and JSON Lines
# --------------------------------------------------------------------------------------


def test_json_object(tmp_path: Path) -> None:
    record = {
        "title": "  Rates  rise ",
        "body": "First line\nwrapped.\n\nSecond\u00a0paragraph.",
        "url": "https://example.com/rates",
        "source": {"id": None, "name": "Reuters"},
        "publish_date": "2023/01/05",
        "authors": ["Jane Doe", "John Roe", "Jane Doe"],
        "country": "us",
        "language": "en",
        "extra": {"ignored": True},
    }
    path = write(tmp_path, "one.json", json.dumps(record))
    result = parse_file(path)

    assert result.failures == ()
    (article,) = result.articles
    assert article.source == str(path)
    assert article.title == "Rates rise"
    assert article.text == "First line wrapped.\n\nSecond paragraph."
    assert article.url == "https://example.com/rates"
    assert article.outlet == "Reuters"
    assert article.published == datetime(2023, 1, 5)
    assert article.author == "Jane Doe, John Roe"
    assert article.country == "US"
    assert article.language == "en"


def test_json_source_string_is_the_outlet_and_text_may_be_a_list(tmp_path: Path) -> None:
    record = {"title": "T", "text": ["Para one.", "Para two."], "source": "AP", "date": 1672912800}
    (article,) = parse_file(write(tmp_path, "o.json", json.dumps(record))).articles

    assert article.outlet == "AP"
    assert article.text == "Para one.\n\nPara two."
    assert article.published == datetime(2023, 1, 5, 10, 0)


def test_json_list_with_a_bad_record(tmp_path: Path) -> None:
    records = [
        {"title": "First", "text": "Body one.", "outlet": "Example Times"},
        {"title": "No text here"},
        "not an object",
        {
            "content": "U.S. officials said on Monday that the talks had stalled. More follows.",
            "published_at": "2023-01-05T10:00:00Z",
            "author": "Ana Lopez",
        },
    ]
    path = write(tmp_path, "list.json", json.dumps(records))
    result = parse_file(path)

    assert [a.source for a in result.articles] == [f"{path}#0", f"{path}#3"]
    first, second = result.articles
    assert first.outlet == "Example Times"
    assert second.title == "U.S. officials said on Monday that the talks had stalled"
    assert second.outlet is None
    assert second.published == datetime(2023, 1, 5, 10, 0)
    assert second.author == "Ana Lopez"
    assert [f.source for f in result.failures] == [f"{path}#1", f"{path}#2"]
    assert "no text" in result.failures[0].reason
    assert "not a JSON object" in result.failures[1].reason


def test_json_scraped_text_is_cleaned_with_the_known_title(tmp_path: Path) -> None:
    record = {
        "title": "Storm hits the coast",
        "text": "Storm hits the coast\n\nBy Jane Doe\n\nCNN —\n\nThe storm made landfall.\n\n___",
    }
    (article,) = parse_file(write(tmp_path, "s.json", json.dumps(record))).articles

    assert article.text == "The storm made landfall."
    assert article.author == "Jane Doe"


def test_json_with_records_under_a_wrapper_key(tmp_path: Path) -> None:
    data = {"status": "ok", "articles": [{"title": "W", "content": "Wrapped body."}]}
    path = write(tmp_path, "wrapped.json", json.dumps(data))
    (article,) = parse_file(path).articles
    assert (article.source, article.text) == (f"{path}#0", "Wrapped body.")


def test_json_lines_with_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "Good one", "text": "First body."}),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"title": "no text", "text": "   "}),
        json.dumps({"text": "Second body.", "published": "Thu, 05 Jan 2023 10:00:00 GMT"}),
    ]
    path = write(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    result = parse_file(path)

    assert isinstance(result, ParseResult)
    assert [a.source for a in result.articles] == [f"{path}:1", f"{path}:6"]
    assert result.articles[1].title == "Second body"
    assert result.articles[1].published == datetime(2023, 1, 5, 10, 0)
    assert [f.source for f in result.failures] == [f"{path}:3", f"{path}:4", f"{path}:5"]
    assert result.failures[0].reason.startswith("not valid JSON: ")
    assert all(isinstance(f, FailedInput) for f in result.failures)


def test_ndjson_line_numbers_ignore_unicode_line_separators(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "A", "text": "Has a\u2028separator."}, ensure_ascii=False),
        json.dumps({"title": "B", "text": "Second."}),
    ]
    path = write(tmp_path, "feed.ndjson", "\n".join(lines))
    result = parse_file(path)
    assert [a.source for a in result.articles] == [f"{path}:1", f"{path}:2"]


def test_json_lines_without_any_good_line_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"title": "x"}\n{oops\n')
    with pytest.raises(BadInputError) as caught:
        parse_file(path)
    assert caught.value.source == str(path)
    assert caught.value.reason.startswith("no records with text")
    assert "line 1" in caught.value.reason


def test_overlong_record_is_a_failure_and_the_rest_parse(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "Long", "text": "word " * 100}),
        json.dumps({"title": "Short", "text": "Short body."}),
    ]
    path = write(tmp_path, "f.jsonl", "\n".join(lines))
    result = parse_file(path, max_article_chars=100)

    assert [a.title for a in result.articles] == ["Short"]
    (failure,) = result.failures
    assert failure.source == f"{path}:1"
    assert failure.reason.startswith("article is 499 characters, over the limit")


# --------------------------------------------------------------------------------------
# Whole-file errors and encodings
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\n", "empty file"),
        ("nul.txt", b"abc\x00def", "binary file (contains NUL bytes), not text"),
        ("latin1.txt", b"hello \xff there", "not valid UTF-8 text (byte 0xff at offset 6)"),
        ("bom-latin1.txt", b"\xef\xbb\xbfab\xe9", "not valid UTF-8 text (byte 0xe9 at offset 5)"),
        ("bad.json", b'{"a": [1, 2,\n  ]}', "not valid JSON: Expecting value at line 2 column 3"),
        ("str.json", b'"text"', "JSON must be an object or a list of objects, not a string"),
        ("empty-list.json", b"[]", "no records with text"),
        ("doc.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        ("README", b"hello", "unsupported file type (no suffix)"),
    ],
)
def test_whole_file_errors(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(BadInputError) as caught:
        parse_file(path)
    assert caught.value.source == str(path)
    assert caught.value.reason == reason
    assert str(caught.value) == f"{path}: {reason}"


def test_oversized_file(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "Title\n\n" + "x" * 1200)
    with pytest.raises(BadInputError) as caught:
        parse_file(path, max_file_bytes=1000)
    assert caught.value.reason == ("file is 1.2 kB, over the 1.0 kB limit (ingest.max_file_bytes)")


def test_oversized_file_in_megabytes(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 2_100_000)
    with pytest.raises(BadInputError) as caught:
        parse_file(path, max_file_bytes=2_000_000)
    assert caught.value.reason == "file is 2.1 MB, over the 2.0 MB limit (ingest.max_file_bytes)"


def test_overlong_single_article(tmp_path: Path) -> None:
    path = write(tmp_path, "long.txt", "Title\n\n" + "word " * 30)
    with pytest.raises(BadInputError) as caught:
        parse_file(path, max_article_chars=50)
    assert caught.value.reason == (
        "article is 149 characters, over the limit of 50 (ingest.max_article_chars)"
    )


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as missing:
        parse_file(tmp_path / "nope.txt")
    assert missing.value.reason == "no such file or folder"

    folder = tmp_path / "dir.txt"
    folder.mkdir()
    with pytest.raises(BadInputError) as is_folder:
        parse_file(folder)
    assert is_folder.value.reason == "is a folder, not a file"


@pytest.mark.parametrize(
    "encoded",
    [
        "\ufeffTitle here\n\nBody “here”.".encode(),
        "Title here\r\n\r\nBody “here”.".encode("utf-16"),
        "Title here\n\nBody “here”.".encode("utf-16-be").join([b"\xfe\xff", b""]),
    ],
)
def test_accepted_encodings(tmp_path: Path, encoded: bytes) -> None:
    (article,) = parse_file(write(tmp_path, "enc.txt", encoded)).articles
    assert (article.title, article.text) == ("Title here", "Body “here”.")


def test_supported_suffixes() -> None:
    assert {
        ".txt",
        ".text",
        ".md",
        ".markdown",
        ".json",
        ".jsonl",
        ".ndjson",
        ".html",
        ".htm",
    } == SUPPORTED_SUFFIXES


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    (article,) = parse_file(write(tmp_path, "UPPER.TXT", "Title\n\nBody.")).articles
    assert article.text == "Body."


# --------------------------------------------------------------------------------------
# Finding input files
# --------------------------------------------------------------------------------------


def test_iter_input_paths_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for name in [
        "b.txt",
        "a.md",
        "notes.pdf",
        ".hidden.txt",
        "sub/z.jsonl",
        "sub/c.json",
        ".git/config.txt",
        "sub/.cache/x.txt",
        "zz/deeper/y.NDJSON",
    ]:
        write(root, name, "x")
    single = write(tmp_path, "single.pdf", "x")

    found = list(iter_input_paths([root, single]))

    assert found == [
        root / "a.md",
        root / "b.txt",
        root / "sub" / "c.json",
        root / "sub" / "z.jsonl",
        root / "zz" / "deeper" / "y.NDJSON",
        single,  # a file named explicitly is yielded whatever its suffix
    ]


def test_iter_input_paths_checks_every_path_before_yielding(tmp_path: Path) -> None:
    good = write(tmp_path, "good.txt", "x")
    missing = tmp_path / "missing"
    paths = iter_input_paths([good, missing])
    with pytest.raises(BadInputError) as caught:
        next(paths)
    assert caught.value.source == str(missing)
    assert caught.value.reason == "no such file or folder"


def test_iter_input_paths_survives_a_symlink_loop(tmp_path: Path) -> None:
    write(tmp_path, "root/a.txt", "x")
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root")
    assert list(iter_input_paths([tmp_path / "root"])) == [tmp_path / "root" / "a.txt"]


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023/01/05", datetime(2023, 1, 5)),
        ("2023/01/07/05:11", datetime(2023, 1, 7, 5, 11)),
        ("2023-01-05", datetime(2023, 1, 5)),
        ("2023-01-05 10:00", datetime(2023, 1, 5, 10, 0)),
        ("2023-01-05T10:00:00", datetime(2023, 1, 5, 10, 0)),
        ("2023-01-05T10:00:00Z", datetime(2023, 1, 5, 10, 0)),
        ("2023-01-05T10:00:00+09:00", datetime(2023, 1, 5, 1, 0)),
        ("April. 12, 2024 07:53", datetime(2024, 4, 12, 7, 53)),
        ("Jan 5, 2023", datetime(2023, 1, 5)),
        ("Jan. 5th, 2023", datetime(2023, 1, 5)),
        ("5 January 2023", datetime(2023, 1, 5)),
        ("Thu January 5, 2023", datetime(2023, 1, 5)),
        ("Thursday, January 5, 2023 at 10:30 a.m.", datetime(2023, 1, 5, 10, 30)),
        ("Thu, 05 Jan 2023 10:00:00 GMT", datetime(2023, 1, 5, 10, 0)),
        ("Thu, 05 Jan 2023 10:00:00 +0200", datetime(2023, 1, 5, 8, 0)),
        ("3:04 PM EST, Thu January 5, 2023", datetime(2023, 1, 5, 20, 4)),
        ("Published: 5 January 2023", datetime(2023, 1, 5)),
        ("  5 January 2023,\u00a0 ", datetime(2023, 1, 5)),
        ("12 pm, 5 Jan 2023", datetime(2023, 1, 5, 12, 0)),
        ("5 de enero de 2023", datetime(2023, 1, 5)),  # dateparser fallback
    ],
)
def test_parse_published(value: str, expected: datetime) -> None:
    parsed = parse_published(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "hello",
        "Monday",
        "2 hours ago",
        "Jan 5",
        "2023 Grammys: winners",
        "February 30, 2023",
    ],
)
def test_parse_published_rejects_non_dates(value: str) -> None:
    assert parse_published(value) is None


def test_parse_published_us_eastern_follows_daylight_saving() -> None:
    assert parse_published("July 4, 2023 10:00 ET") == datetime(2023, 7, 4, 14, 0)
    assert parse_published("Jan 4, 2023 10:00 ET") == datetime(2023, 1, 4, 15, 0)


# --------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------


def test_a_thousand_article_jsonl_file_parses_whole(tmp_path: Path) -> None:
    paragraph = "Officials said the talks would resume next week in the capital. " * 8
    body = "\n\n".join(paragraph for _ in range(12))  # about 6 KB per article
    lines = [
        json.dumps(
            {
                "title": f"Article {i}",
                "text": f"Article {i}\n\nBy Jane Doe\n\nPublished: 5 January 2023\n\n{body}",
                "publish_date": "2023/01/05",
            }
        )
        for i in range(1000)
    ]
    path = write(tmp_path, "many.jsonl", "\n".join(lines))

    result = parse_file(path)

    # How fast is measured by bench/ingest.py, not asserted here.
    assert len(result.articles) == 1000 and not result.failures
    assert [a.title for a in result.articles[:2]] == ["Article 0", "Article 1"]
    assert all(a.text.startswith("Officials said") for a in result.articles)
