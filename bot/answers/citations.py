"""Composing cited text from quoted sentences, and checking every citation resolves.

Nothing reaches a user unless :func:`verify` passed: each `[n]` names a listed source,
each quote is exactly the stored article text at its span, the span lies inside the cited
passage, and the answer holds nothing but quotes and their markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.models import Answer, Citation, Source
from index import Article, GeobotError, KnowledgeBase, Passage

__all__ = ["CitationError", "Quote", "compose", "verify"]


class CitationError(GeobotError):
    """An answer cites something that does not exist or does not say what is quoted."""


@dataclass(frozen=True)
class Quote:
    """A sentence chosen for an answer, by its place in the stored article."""

    article: Article
    passage: Passage
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.article.text[self.start : self.end]


def source_of(number: int, article: Article) -> Source:
    return Source(
        number=number,
        article_id=article.id,
        title=article.title,
        outlet=article.outlet,
        country=article.country,
        published=article.published,
        url=article.url,
    )


def compose(quotes: Sequence[Quote]) -> tuple[str, tuple[Citation, ...], tuple[Source, ...]]:
    """The answer text "sentence [n] sentence [m] ...", its citations and numbered sources.

    Sources are numbered in order of first citation. A sentence runs on with a space, and
    a new source's sentences start a new paragraph when the answer holds several sources.
    """
    numbers: dict[int, int] = {}
    sources: list[Source] = []
    citations: list[Citation] = []
    parts: list[str] = []
    length = 0
    previous_article: int | None = None
    for quote in quotes:
        number = numbers.get(quote.article.id)
        if number is None:
            number = numbers[quote.article.id] = len(numbers) + 1
            sources.append(source_of(number, quote.article))
        if parts:
            separator = " " if quote.article.id == previous_article else "\n\n"
            parts.append(separator)
            length += len(separator)
        text = quote.text
        citations.append(
            Citation(
                number=number,
                article_id=quote.article.id,
                passage_id=quote.passage.id,
                start=quote.start,
                end=quote.end,
                quote=text,
                answer_start=length,
                answer_end=length + len(text),
            )
        )
        marker = f" [{number}]"
        parts.extend([text, marker])
        length += len(text) + len(marker)
        previous_article = quote.article.id
    return "".join(parts), tuple(citations), tuple(sources)


def verify(answer: Answer, kb: KnowledgeBase) -> None:
    """Raise CitationError unless every citation of `answer` resolves in `kb`."""
    if answer.declined:
        if answer.citations:
            raise CitationError("a declined answer must not cite anything")
        return
    if not answer.citations:
        raise CitationError("an answer must cite at least one source")
    sources = {s.number: s for s in answer.sources}
    passages = kb.store.passages([c.passage_id for c in answer.citations])
    articles = kb.store.articles(sorted({c.article_id for c in answer.citations}))
    covered = 0
    for citation in sorted(answer.citations, key=lambda c: c.answer_start):
        source = sources.get(citation.number)
        if source is None or source.article_id != citation.article_id:
            raise CitationError(f"[{citation.number}] names no listed source")
        passage = passages.get(citation.passage_id)
        article = articles.get(citation.article_id)
        if passage is None or article is None or passage.article_id != article.id:
            raise CitationError(f"[{citation.number}] cites a passage that does not exist")
        if not (passage.start <= citation.start < citation.end <= passage.end):
            raise CitationError(f"[{citation.number}] quotes outside its passage")
        if article.text[citation.start : citation.end] != citation.quote:
            raise CitationError(f"[{citation.number}] does not match the stored article text")
        shown = answer.text[citation.answer_start : citation.answer_end]
        if shown != citation.quote:
            raise CitationError(f"[{citation.number}] is not quoted verbatim in the answer")
        marker = f" [{citation.number}]"
        if answer.text[citation.answer_end : citation.answer_end + len(marker)] != marker:
            raise CitationError(f"the quote of [{citation.number}] is not followed by it")
        if answer.text[covered : citation.answer_start].strip():
            raise CitationError("the answer holds text that no citation covers")
        covered = citation.answer_end + len(marker)
    if answer.text[covered:].strip():
        raise CitationError("the answer holds text that no citation covers")
