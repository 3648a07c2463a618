"""What a document is, judged from its first bytes, for bodies no content type describes.

One reading of the start of a document (byte-order mark removed, leading space stripped,
lower-cased) serves both the fetcher, which must decide whether a download is the page or
feed it asked for, and the HTML extractor, which must decide whether a file is a page.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BOMS", "is_xml_feed", "looks_like_feed", "looks_like_html", "sniff_text"]

# How much of the start of a document the sniffing looks at.
SNIFF_CHARS: Final = 4096
BOMS: Final = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_HTML_MARKERS: Final = ("<!doctype html", "<html", "<head", "<body")
_FEED_MARKERS: Final = ("<rss", "<feed", "<rdf:rdf")


def sniff_text(data: bytes | str) -> str:
    """The start of `data` as lower-case text, without a byte-order mark or leading space.

    Empty when the start holds NUL characters (binary data, or UTF-16 without a BOM).
    """
    if isinstance(data, bytes):
        chunk = data[: SNIFF_CHARS * 4]
        for bom, codec in BOMS:
            if chunk.startswith(bom):
                text = chunk[len(bom) :].decode(codec, errors="ignore")
                break
        else:
            # Tags are ASCII, which every ASCII-compatible charset leaves as it is.
            text = chunk.decode("latin-1")
    else:
        text = data
    head = text[:SNIFF_CHARS].lstrip("\ufeff \t\r\n\x0c").lower()
    return "" if "\x00" in head else head


def is_xml_feed(head: str) -> bool:
    """Whether a sniffed start is an XML document holding an RSS, Atom or RDF feed."""
    return head.startswith("<?xml") and any(marker in head for marker in _FEED_MARKERS)


def looks_like_feed(data: bytes | str) -> bool:
    """Whether `data` starts like a feed: an XML prolog or an RSS, Atom or RDF root."""
    return sniff_text(data).startswith(("<?xml", *_FEED_MARKERS))


def looks_like_html(data: bytes | str, *, fragment: bool = False) -> bool:
    """Whether `data` starts like an HTML page: cheap, for bodies without a content type.

    True when the document starts with markup and its first few kilobytes hold a
    doctype, ``<html>``, ``<head>`` or ``<body>`` tag; RSS and Atom feeds, JSON, PDF and
    plain text are not HTML. With `fragment`, markup holding a paragraph (``<p>``) also
    counts: a page served without its document around it, which the extractor still reads.
    """
    head = sniff_text(data)
    if not head.startswith("<") or is_xml_feed(head):
        return False
    markers = (*_HTML_MARKERS, "<p>", "<p ") if fragment else _HTML_MARKERS
    return any(marker in head for marker in markers)
