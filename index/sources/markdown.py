"""Markdown reduced to plain text: markup removed, the words kept where they stand."""

from __future__ import annotations

import re

from index.sources.cleanup import is_separator

__all__ = ["markdown_to_text"]

_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")
_MD_IMAGE_RE = re.compile(r"!\[[^\]\n]*\](?:\((?:[^()\n]|\([^()\n]*\))*\)|\[[^\]\n]*\])")
_MD_LINK_RE = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_REF_LINK_RE = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_MD_REF_DEF_RE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$")
_MD_AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_FENCE_RE = re.compile(r"^ {0,3}(?:```|~~~)")
_MD_QUOTE_RE = re.compile(r"^ {0,3}>[ \t]?")
_MD_BULLET_RE = re.compile(r"^\s*[-*+][ \t]+")
_MD_NUMBERED_RE = re.compile(r"^\s*\d{1,3}[.)][ \t]+")
_MD_STRONG_RE = re.compile(r"(?<!\w)(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_MD_EM_STAR_RE = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_MD_EM_UNDERSCORE_RE = re.compile(r"(?<![_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])")
_MD_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_CODE_RE = re.compile(r"(`+)(.+?)\1")
# Escaped characters are parked in the Private Use Area so emphasis rules cannot eat them.
_ESCAPE_BASE = 0xE000


def markdown_to_text(markdown: str) -> str:
    """Reduce Markdown to plain lines; headings and list items become their own paragraphs."""
    text = _HTML_COMMENT_RE.sub("", markdown)
    text = _MD_ESCAPE_RE.sub(lambda m: chr(_ESCAPE_BASE + ord(m.group(1))), text)
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(_markdown_line(line))
    plain = "\n".join(lines)
    return re.sub(r"[\ue000-\ue07f]", lambda m: chr(ord(m.group(0)) - _ESCAPE_BASE), plain)


def _markdown_line(line: str) -> list[str]:
    if _MD_FENCE_RE.match(line) or _MD_REF_DEF_RE.match(line):
        return [""]
    while _MD_QUOTE_RE.match(line):
        line = _MD_QUOTE_RE.sub("", line, count=1)
    if is_separator(line):
        return [line]
    heading = _MD_HEADING_RE.match(line)
    if heading:
        return ["", _markdown_inline(heading.group(1) or ""), ""]
    if _MD_BULLET_RE.match(line):
        return ["", _markdown_inline(_MD_BULLET_RE.sub("", line, count=1))]
    if _MD_NUMBERED_RE.match(line):
        return ["", _markdown_inline(line)]
    return [_markdown_inline(line)]


def _markdown_inline(text: str) -> str:
    text = _MD_IMAGE_RE.sub("", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_REF_LINK_RE.sub(r"\1", text)
    text = _MD_AUTOLINK_RE.sub(r"\1", text)
    text = _MD_CODE_RE.sub(lambda m: m.group(2).strip(), text)
    text = _MD_STRONG_RE.sub(r"\2", text)
    text = _MD_EM_STAR_RE.sub(r"\1", text)
    text = _MD_EM_UNDERSCORE_RE.sub(r"\1", text)
    return _MD_STRIKE_RE.sub(r"\1", text)
