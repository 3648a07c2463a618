"""Judging a body by its first bytes: one reading shared by the fetcher and the extractor."""

from __future__ import annotations

import pytest

from index.sources.sniffing import looks_like_feed, looks_like_html, sniff_text


def test_sniff_text_drops_byte_order_marks_and_leading_space() -> None:
    assert sniff_text(b"\xef\xbb\xbf \n<HTML>") == "<html>"
    assert sniff_text("\n\t<Feed>".encode("utf-16")) == "<feed>"
    assert sniff_text("\ufeff<P>x</P>") == "<p>x</p>"


def test_sniff_text_is_empty_for_binary_data() -> None:
    assert sniff_text(b"\x00\x01<html>") == ""
    assert sniff_text("<html>".encode("utf-16-le")) == ""  # UTF-16 without its BOM


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><rss/>',
        b"  <rss version='2.0'></rss>",
        '<feed xmlns="http://www.w3.org/2005/Atom"></feed>'.encode("utf-16"),
        b"<rdf:RDF></rdf:RDF>",
    ],
)
def test_feeds_are_recognised(body: bytes) -> None:
    assert looks_like_feed(body)
    assert not looks_like_html(body, fragment=True)


@pytest.mark.parametrize("body", [b"<!DOCTYPE html><html></html>", b'{"rss": 1}', b"plain <rss>"])
def test_other_things_are_not_feeds(body: bytes) -> None:
    assert not looks_like_feed(body)


def test_a_paragraph_fragment_is_html_only_when_fragments_are_accepted() -> None:
    fragment = b"<!-- generated --><div><p>A paragraph</p></div>"
    assert looks_like_html(fragment, fragment=True)
    assert not looks_like_html(fragment)


@pytest.mark.parametrize(
    "body", [b"Hello <html> world", b"just words with <p> inside", b"%PDF-1.7 <p>", b""]
)
def test_text_that_merely_mentions_tags_is_not_html(body: bytes) -> None:
    assert not looks_like_html(body, fragment=True)
