"""Pages nested deeper than libxml2 builds trees (index/sources/html_depth.py)."""

from __future__ import annotations

import lxml.html
import pytest
import trafilatura

from index.sources.html import extract_html
from index.sources.html_depth import PARSER_DEPTH_LIMIT, flatten_deep_html, reaches_depth

STORY = "The envoys agreed on a corridor for grain ships near Odesa on Monday. " * 3
AFTER = "Officials said inspections of the ships would begin the following week."


def nested(depth: int, inner: str = f"<p>{STORY}</p>") -> str:
    return (
        "<html><head><title>Corridor agreed</title></head><body>"
        + "<div>" * depth
        + inner
        + "</div>" * depth
        + f"<p>{AFTER}</p></body></html>"
    )


def depth_of(html: str) -> int:
    root = lxml.html.document_fromstring(html)
    deepest, stack = 0, [(root, 0)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def test_the_parser_drops_everything_after_its_depth_limit() -> None:
    # What the flattening is for: libxml2 loses the rest of the page, silently.
    tree = trafilatura.load_html(nested(1_000))
    assert tree is not None
    assert AFTER not in tree.text_content() and STORY not in tree.text_content()
    assert reaches_depth(tree)


@pytest.mark.parametrize("depth", [1, 50, 200])
def test_ordinary_pages_are_not_taken_for_deep_ones(depth: int) -> None:
    assert not reaches_depth(trafilatura.load_html(nested(depth)))


def test_flattening_keeps_the_text_in_order_within_the_parsers_reach() -> None:
    inner = (
        f"<h2>Heading</h2><p>{STORY}</p><script>var hidden = '<p>no</p>';</script>"
        "<ul><li>first item<li>second item</ul><span>inline</span> words"
    )
    flat = flatten_deep_html(nested(10_000, inner))
    assert depth_of(flat) < PARSER_DEPTH_LIMIT
    text = lxml.html.document_fromstring(flat).text_content()
    order = ["Heading", STORY.strip(), "first item", "second item", "inline words", AFTER]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert "hidden" not in text
    # Blocks become paragraphs of their own; empty ones leave no empty paragraphs.
    assert "<p>first item<p>second item<p>inline" in flat
    assert "<p><p>" not in flat


def test_a_page_nested_ten_thousand_deep_is_extracted_whole() -> None:
    article = extract_html(nested(10_000), source="deep.html")
    assert article.title == "Corridor agreed"
    assert article.text == f"{STORY.strip()}\n\n{AFTER}"
