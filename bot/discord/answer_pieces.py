"""An answer's text as the pieces Discord embeds are cut between: pure functions.

Answer text is made of quoted sentences, each followed by its marker " [n]". A `Piece` is
one such sentence with its marker, so when an answer has to be split (several embeds) or
shortened, the cut always falls right after a marker, and a quote is never separated from
the source that vouches for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.answers.citations import CitationError, cited_sentences
from bot.answers.corroboration import describe
from bot.answers.models import Answer
from bot.answers.short_answer import headline
from bot.discord.text import CITATION_MARKER, safe_markdown, trim

__all__ = ["Piece", "answer_pieces", "pack_pieces"]

# A citation marker closing a sentence: whitespace, "[n]", then whitespace or the end.
_MARKER_END = re.compile(r"\s\[(\d+)\](?=\s|$)")


@dataclass(frozen=True)
class Piece:
    """One cited sentence as displayed: its quote (escaped, neutralized) and its marker.

    `sep` is the whitespace that joined it to the previous sentence in the answer (" "
    within a source, a blank line between sources); it is dropped at an embed's start.
    """

    sep: str
    quote: str
    marker: str
    numbers: frozenset[int]

    @property
    def body(self) -> str:
        return self.quote + self.marker

    def capped(self, limit: int) -> Piece:
        """This sentence within `limit` characters: the quote is cut at a word boundary
        with '…' *before* the marker, so the citation survives the cut."""
        if len(self.body) <= limit:
            return self
        room = max(limit - len(self.marker), 1)
        return replace(self, quote=trim(self.quote, room))


def _numbers_in(text: str) -> set[int]:
    return {int(n) for n in CITATION_MARKER.findall(text)}


def _separator(gap: str, first: bool) -> str:
    if first:
        return ""
    return "\n\n" if "\n" in gap else " "


def _pieces_from_citations(answer: Answer) -> list[Piece] | None:
    """The sentences of `answer.text` as its citations place them, or None when the
    citations do not tile the text (then the text is parsed instead)."""
    if not answer.citations:
        return None
    try:
        sentences = cited_sentences(answer)
    except CitationError:
        return None
    return [
        Piece(
            _separator(sentence.gap, index == 0),
            safe_markdown(sentence.text),
            sentence.marker,
            # A quote may itself contain "[3]"; listing source 3 too is harmless, while
            # leaving out a number a reader sees would not be.
            frozenset({c.number for c in sentence.citations} | _numbers_in(sentence.text)),
        )
        for index, sentence in enumerate(sentences)
    ]


def _pieces_from_text(text: str) -> list[Piece]:
    """The sentences of `text` split right after each " [n]" marker (the fallback when
    citations are missing or inconsistent with the text)."""
    pieces: list[Piece] = []
    position = 0
    for match in _MARKER_END.finditer(text):
        segment = text[position : match.end()]
        body = segment.lstrip()
        bracket = f"[{match.group(1)}]"
        quote = body[: len(body) - len(bracket)].rstrip()
        marker = f" {bracket}" if quote else bracket
        gap = segment[: len(segment) - len(body)]
        numbers = frozenset(_numbers_in(body))
        pieces.append(Piece(_separator(gap, not pieces), safe_markdown(quote), marker, numbers))
        position = match.end()
    rest = text[position:]
    if rest.strip():
        body = rest.strip()
        gap = rest[: len(rest) - len(rest.lstrip())]
        numbers = frozenset(_numbers_in(body))
        pieces.append(Piece(_separator(gap, not pieces), safe_markdown(body), "", numbers))
    return pieces


def answer_pieces(answer: Answer, limit: int) -> list[Piece]:
    """The sentences of `answer`, each within `limit` characters (one embed's text)."""
    pieces = _pieces_from_citations(answer)
    if pieces is None:
        pieces = _pieces_from_text(answer.text)
    line = headline(answer)
    if line is not None:
        # The short answer opens the message, in bold, as a piece of its own that is
        # never cut from the sources it names.
        numbers = frozenset(
            b.number for short in answer.short_answers for b in short.backing if b.number
        )
        head = Piece("", f"**{safe_markdown(line)}**", "", numbers)
        if pieces:
            pieces[0] = replace(pieces[0], sep="\n\n")
        pieces = [head, *pieces]
    if answer.corroboration:
        # Who else reports each quoted claim, after the quotes (a topic summary).
        lines = "\n".join(safe_markdown(describe(c)) for c in answer.corroboration)
        numbers = frozenset(
            n
            for c in answer.corroboration
            for n in (c.number, *(b.number for b in c.others))
            if n is not None
        )
        pieces = [*pieces, Piece("\n\n", f"*Who else reports it:*\n{lines}", "", numbers)]
    return [p.capped(limit) for p in pieces]


def pack_pieces(pieces: Sequence[Piece], limit: int) -> list[str]:
    """Whole sentences packed greedily into descriptions of at most `limit` characters:
    a description only ever ends right after a marker (or the shortening note)."""
    descriptions: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece.sep) + len(piece.body) <= limit:
            current += piece.sep + piece.body
        else:
            if current:
                descriptions.append(current)
            current = piece.body
    if current:
        descriptions.append(current)
    return descriptions
