"""Packing sentences into passages that fit the embedding model's window.

Sizes are measured with the model's own tokenizer, so nothing is silently truncated at
embedding time. A passage is a run of whole sentences; the next passage starts with the
last `overlap` sentences of the previous one, so a fact split across a boundary is still
found whole in one of them. A single sentence longer than the window (tables, run-on
scraped text) is cut at word-piece boundaries into pieces that fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.models import Span

__all__ = ["Chunk", "TokenCounter", "TokenSpans", "chunk_sentences"]

# Given texts, their lengths in word pieces (without the model's special tokens).
TokenCounter = Callable[[Sequence[str]], list[int]]
# Given a text, the character span of each of its word pieces.
TokenSpans = Callable[[str], list[tuple[int, int]]]

# Share of the target a passage must hold before a paragraph end may close it.
PARAGRAPH_FILL = 0.6


@dataclass(frozen=True)
class Chunk:
    """A passage-to-be: the span of article text it covers and the sentences inside."""

    start: int
    end: int
    sentences: tuple[Span, ...]
    tokens: int


def chunk_sentences(
    text: str,
    sentences: Sequence[Span],
    *,
    count_tokens: TokenCounter,
    token_spans: TokenSpans,
    budget: int,
    target: int,
    overlap: int,
) -> list[Chunk]:
    """Group `sentences` of `text` into chunks of at most `budget` word pieces.

    A chunk is closed once it holds `target` word pieces, the next sentence would not
    fit, or a paragraph ends and the chunk holds `PARAGRAPH_FILL` of the target. `budget` is what
    is left of the model window after special tokens and any title.
    """
    if budget < 1:
        raise ValueError("the passage budget must be at least one word piece")
    target = min(target, budget)
    pieces, sizes = _fit_sentences(text, sentences, count_tokens, token_spans, budget)
    chunks: list[Chunk] = []
    current: list[int] = []  # indexes into pieces
    current_tokens = 0
    for index, size in enumerate(sizes):
        # A paragraph is a natural unit of a news story: end the passage with one once the
        # passage is well filled, rather than spilling a few words into the next.
        paragraph_ends = index > 0 and "\n" in text[pieces[index - 1].end : pieces[index].start]
        if current and (
            current_tokens >= target
            or current_tokens + size > budget
            or (paragraph_ends and current_tokens >= target * PARAGRAPH_FILL)
        ):
            chunks.append(_make_chunk(pieces, sizes, current))
            carried = current[-overlap:] if overlap else []
            # Overlap is a courtesy: drop it when it would crowd out the next sentence,
            # or when the sentence alone already fills the passage.
            while carried and sum(sizes[i] for i in carried) + size > budget:
                carried = carried[1:]
            current = list(carried)
            current_tokens = sum(sizes[i] for i in current)
        current.append(index)
        current_tokens += size
    if current:
        chunk = _make_chunk(pieces, sizes, current)
        # A tail made only of overlap sentences adds nothing new.
        if not chunks or chunk.end > chunks[-1].end:
            chunks.append(chunk)
    return chunks


def _make_chunk(pieces: Sequence[Span], sizes: Sequence[int], members: Sequence[int]) -> Chunk:
    spans = tuple(pieces[i] for i in members)
    return Chunk(spans[0].start, spans[-1].end, spans, sum(sizes[i] for i in members))


def _fit_sentences(
    text: str,
    sentences: Sequence[Span],
    count_tokens: TokenCounter,
    token_spans: TokenSpans,
    budget: int,
) -> tuple[list[Span], list[int]]:
    """The sentences with any longer than `budget` cut into fitting pieces, and their sizes."""
    sizes = count_tokens([text[s.start : s.end] for s in sentences]) if sentences else []
    pieces: list[Span] = []
    piece_sizes: list[int] = []
    for sentence, size in zip(sentences, sizes, strict=True):
        if size <= budget:
            pieces.append(sentence)
            piece_sizes.append(max(size, 1))
            continue
        offsets = token_spans(text[sentence.start : sentence.end])
        # Re-tokenising a piece that starts mid-word can take a word piece or two more
        # than the window it came from: leave that slack.
        step = budget - 8 if budget > 16 else budget
        for first in range(0, len(offsets), step):
            window = offsets[first : first + step]
            start = sentence.start + window[0][0]
            end = sentence.start + window[-1][1]
            pieces.append(Span(start, end))
            piece_sizes.append(len(window))
    return pieces, piece_sizes
