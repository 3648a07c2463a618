"""Pages nested deeper than the HTML parser goes, flattened so that their text survives.

libxml2 (under lxml, under trafilatura) stops building the tree 255 elements deep and
drops everything from there on: not only the deep part but the rest of the page. A page
that deep (generated markup, or one made to hide its text) is rewritten before it is
parsed again: elements below a depth are dropped but their text is kept, each block
(paragraph, heading, list item...) starting a paragraph of its own, so the extractor sees
the words in their order. The rewriting uses Python's own HTML tokenizer, which has no
depth limit and no recursion.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from typing import Final

from lxml.html import HtmlElement

__all__ = ["PARSER_DEPTH_LIMIT", "flatten_deep_html", "reaches_depth"]

# How deep libxml2's HTML parser builds a tree (counting from the root element).
PARSER_DEPTH_LIMIT: Final = 255
# How deep a flattened page keeps its elements: well within the parser's reach.
_KEPT_DEPTH: Final = 32

_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
# Elements whose start (and end) begins a new paragraph when flattened.
_BLOCKS: Final = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt"}
    | {"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"header", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table"}
    | {"td", "th", "tr", "ul", "br", "hr"}
)
# Elements whose content is not text to read.
_NOT_TEXT: Final = frozenset({"script", "style", "template", "noscript", "svg", "math"})
# Elements a new one of the same name closes (HTML's implied end tags).
_SELF_CLOSING_SIBLINGS: Final = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option"})


def reaches_depth(tree: HtmlElement, depth: int = PARSER_DEPTH_LIMIT) -> bool:
    """Whether some element of `tree` is `depth` elements below its root: the parser
    stopped there, and whatever came after it in the page is missing."""
    path = "/*" * (depth + 1)
    return bool(tree.getroottree().xpath(f"boolean({path})"))


def flatten_deep_html(text: str, *, kept_depth: int = _KEPT_DEPTH) -> str:
    """`text` rewritten so that no element is deeper than `kept_depth` + 1."""
    flattener = _Flattener(kept_depth)
    flattener.feed(text)
    flattener.close()
    return "".join(flattener.out)


class _Flattener(HTMLParser):
    def __init__(self, kept_depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.kept_depth = kept_depth
        self.out: list[str] = []
        # Every element open, kept (written out) or flattened (only its text written).
        self.open: list[tuple[str, bool]] = []
        self.hidden = 0  # flattened elements open whose content is not text
        # A block boundary was passed among flattened elements: the next text starts a
        # paragraph (written only then, so that empty blocks leave no empty paragraphs).
        self.paragraph_due = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SELF_CLOSING_SIBLINGS and self.open and self.open[-1][0] == tag:
            self.handle_endtag(tag)
        kept = len(self.open) < self.kept_depth and not self.hidden
        if kept:
            self.out.append(_start_tag(tag, attrs))
            self.paragraph_due = False
        elif tag in _BLOCKS:
            self.paragraph_due = True
        if tag in _VOID:
            return
        if not kept and tag in _NOT_TEXT:
            self.hidden += 1
        self.open.append((tag, kept))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not any(name == tag for name, _ in self.open):
            return  # a stray end tag, as HTML parsers ignore it
        while self.open:
            name, kept = self.open.pop()
            if kept:
                self.out.append(f"</{name}>")
                self.paragraph_due = False
            elif name in _NOT_TEXT:
                self.hidden -= 1
            elif name in _BLOCKS:
                self.paragraph_due = True
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        raw = self.open and self.open[-1][1] and self.open[-1][0] in ("script", "style")
        if self.paragraph_due and data.strip():
            self.out.append("<p>")
            self.paragraph_due = False
        self.out.append(data if raw else escape(data, quote=False))

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")


def _start_tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    written = "".join(
        f" {name}" if value is None else f' {name}="{escape(value)}"' for name, value in attrs
    )
    return f"<{tag}{written}>"
