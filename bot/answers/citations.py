"""Composing cited text from quoted sentences, and checking every citation resolves.

Nothing reaches a user unless :func:`verify` passed: each `[n]` names a listed source,
each quote is exactly the stored article text at its span, the span lies inside the cited
passage, and the answer holds nothing but quotes and their markers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.answers.models import Answer, Citation, Source
from bot.answers.support import check_support, supporting_text
from bot.answers.untrusted import markup_problem
from bot.config import LLMConfig
from index import Article, GeobotError, KnowledgeBase, Passage

__all__ = [
    "DEFAULT_MIN_SUPPORT",
    "CitationError",
    "CitedSentence",
    "Quote",
    "cited_sentences",
    "compose",
    "compose_written",
    "markers",
    "states",
    "verify",
]


# How much of a written sentence its sources must hold: the `[llm] min_support` default.
DEFAULT_MIN_SUPPORT = LLMConfig().min_support


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


class _Numbering:
    """Numbers the cited articles in order of first citation, listing each as a source."""

    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}
        self.sources: list[Source] = []

    def cite(self, quote: Quote, answer_start: int, answer_end: int) -> Citation:
        """The citation of `quote` by the answer text at `answer_start:answer_end`."""
        number = self._numbers.get(quote.article.id)
        if number is None:
            number = self._numbers[quote.article.id] = len(self._numbers) + 1
            self.sources.append(source_of(number, quote.article))
        return Citation(
            number=number,
            article_id=quote.article.id,
            passage_id=quote.passage.id,
            start=quote.start,
            end=quote.end,
            quote=quote.text,
            answer_start=answer_start,
            answer_end=answer_end,
        )


def compose(quotes: Sequence[Quote]) -> tuple[str, tuple[Citation, ...], tuple[Source, ...]]:
    """The answer text "sentence [n] sentence [m] ...", its citations and numbered sources.

    Sources are numbered in order of first citation. A sentence runs on with a space, and
    a new source's sentences start a new paragraph when the answer holds several sources.
    """
    numbering = _Numbering()
    citations: list[Citation] = []
    text = ""
    previous_article: int | None = None
    for quote in quotes:
        if text:
            text += " " if quote.article.id == previous_article else "\n\n"
        citation = numbering.cite(quote, len(text), len(text) + len(quote.text))
        citations.append(citation)
        text += quote.text + markers([citation.number])
        previous_article = quote.article.id
    return text, tuple(citations), tuple(numbering.sources)


def compose_written(
    sentences: Sequence[tuple[str, Sequence[Quote]]],
) -> tuple[str, tuple[Citation, ...], tuple[Source, ...]]:
    """The answer text of written sentences, each followed by its sources' markers.

    Every quote becomes a citation of its sentence (the evidence behind it); sources are
    numbered by first citation, as in :func:`compose`.
    """
    numbering = _Numbering()
    citations: list[Citation] = []
    text = ""
    for sentence, quotes in sentences:
        if text:
            text += " "
        start, end = len(text), len(text) + len(sentence)
        cited = [numbering.cite(quote, start, end) for quote in quotes]
        citations.extend(cited)
        text += sentence + markers([c.number for c in cited])
    return text, tuple(citations), tuple(numbering.sources)


def markers(numbers: Sequence[int]) -> str:
    """The citation markers after a sentence: " [2]", or " [1][3]" for several sources."""
    return " " + "".join(f"[{n}]" for n in dict.fromkeys(numbers))


@dataclass(frozen=True)
class CitedSentence:
    """One sentence of an answer as its citations place it, with the markers after it."""

    start: int
    end: int
    text: str
    marker: str
    citations: tuple[Citation, ...]
    gap: str  # the text between the previous sentence's markers and this sentence


def cited_sentences(answer: Answer) -> list[CitedSentence]:
    """The sentences of `answer.text`, in order, as its citations place them.

    Raises CitationError unless they tile the text: each sentence followed by its
    markers, nothing but whitespace between or after them, and a quoted (not written)
    sentence exactly its citation's quote. Citations sharing a span cite one sentence.
    """
    groups: dict[tuple[int, int], list[Citation]] = {}
    for citation in sorted(answer.citations, key=lambda c: (c.answer_start, c.answer_end)):
        groups.setdefault((citation.answer_start, citation.answer_end), []).append(citation)
    sentences: list[CitedSentence] = []
    covered = 0
    for (start, end), cited in groups.items():
        shown = answer.text[start:end]
        if answer.method != "llm" and (len(cited) != 1 or shown != cited[0].quote):
            raise CitationError(f"[{cited[0].number}] is not quoted verbatim in the answer")
        marker = markers([c.number for c in cited])
        if answer.text[end : end + len(marker)] != marker:
            raise CitationError(f"the sentence citing [{cited[0].number}] is not followed by it")
        gap = answer.text[covered:start]
        if start < covered or gap.strip():
            raise CitationError("the answer holds text that no citation covers")
        sentences.append(CitedSentence(start, end, shown, marker, tuple(cited), gap))
        covered = end + len(marker)
    if answer.text[covered:].strip():
        raise CitationError("the answer holds text that no citation covers")
    return sentences


class _QuotedSpan(Protocol):
    """A quote of stored article text: a citation, or a sentence backing a short answer."""

    @property
    def article_id(self) -> int: ...
    @property
    def passage_id(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def quote(self) -> str: ...


def _check_quoted_span(
    label: str, span: _QuotedSpan, passages: Mapping[int, Passage], articles: Mapping[int, Article]
) -> tuple[Passage, Article]:
    """The passage and article `span` quotes; CitationError (naming `label`) unless the
    passage exists in that article, the span lies inside it, and it is the stored text."""
    passage = passages.get(span.passage_id)
    article = articles.get(span.article_id)
    if passage is None or article is None or passage.article_id != article.id:
        raise CitationError(f"{label} cites a passage that does not exist")
    if not (passage.start <= span.start < span.end <= passage.end):
        raise CitationError(f"{label} quotes outside its passage")
    if article.text[span.start : span.end] != span.quote:
        raise CitationError(f"{label} does not match the stored article text")
    return passage, article


def _verify_short_answers(answer: Answer, kb: KnowledgeBase, sources: dict[int, Source]) -> None:
    """Each short answer (and each candidate listed beside it) is stated, in so many words,
    by every sentence that backs it, and each backing sentence is stored text of its
    passage; a shown one names listed sources."""
    shown = answer.short_answers
    backings = [(short, b) for short in (*shown, *answer.candidates) for b in short.backing]
    if not backings:
        return
    passages = kb.store.passages([b.passage_id for _, b in backings])
    articles = kb.store.articles(sorted({b.article_id for _, b in backings}))
    for short, backing in backings:
        label = f"the short answer {short.text!r}"
        if short in shown and not short.backing:
            raise CitationError(f"{label} has no source")
        if backing.number is not None or short in shown:
            source = sources.get(backing.number or 0)
            if source is None or source.article_id != backing.article_id:
                raise CitationError(f"{label} cites [{backing.number}], no listed source")
        _check_quoted_span(label, backing, passages, articles)
        if not states(backing.quote, short.text):
            raise CitationError(f"{label} is not in the sentence that backs it")


def _verify_corroboration(answer: Answer, kb: KnowledgeBase, sources: dict[int, Source]) -> None:
    """Each "also reported by" names a listed source whose stored sentence lies in its
    passage, and whose passage supports the quoted sentence it corroborates."""
    if not answer.corroboration:
        return
    quoted = {(c.number, c.start, c.end): c.quote for c in answer.citations}
    others = [b for c in answer.corroboration for b in c.others]
    passages = kb.store.passages([b.passage_id for b in others])
    articles = kb.store.articles(sorted({b.article_id for b in others}))
    for corroboration in answer.corroboration:
        sentence = quoted.get((corroboration.number, corroboration.start, corroboration.end))
        if sentence is None:
            raise CitationError(f"[{corroboration.number}] corroborates no quoted sentence")
        for backing in corroboration.others:
            source = sources.get(backing.number or 0)
            if source is None or source.article_id != backing.article_id:
                raise CitationError(f"[{backing.number}] names no listed source")
            passage, article = _check_quoted_span(
                f"[{backing.number}]", backing, passages, articles
            )
            support = check_support(sentence, [supporting_text(article, passage)])
            if not support.holds(DEFAULT_MIN_SUPPORT):
                raise CitationError(
                    f"[{backing.number}] does not say what [{corroboration.number}] quotes"
                )


def states(sentence: str, answer: str) -> bool:
    """Whether `sentence` states `answer` in so many words (case and spacing aside)."""

    def plain(text: str) -> str:
        return " ".join(text.replace("’", "'").split()).lower()

    return bool(answer.strip()) and plain(answer) in plain(sentence)


def verify(answer: Answer, kb: KnowledgeBase, *, min_support: float = DEFAULT_MIN_SUPPORT) -> None:
    """Raise CitationError unless every citation of `answer` resolves in `kb`.

    A quoted (extractive) sentence must be its citation's quote, character for character.
    A written sentence (``method == "llm"``) may cite several passages; each quote must be
    stored text of its passage, and the sentence must be plain prose (no link, HTML or
    mention: :func:`bot.answers.untrusted.markup_problem`) supported by those passages
    (:func:`bot.answers.support.check_support` at `min_support`).
    """
    if answer.declined:
        if answer.citations or answer.short_answers:
            raise CitationError("a declined answer must not cite anything")
        return
    if not answer.citations:
        raise CitationError("an answer must cite at least one source")
    sources = {s.number: s for s in answer.sources}
    passages = kb.store.passages([c.passage_id for c in answer.citations])
    articles = kb.store.articles(sorted({c.article_id for c in answer.citations}))
    for citation in answer.citations:
        source = sources.get(citation.number)
        if source is None or source.article_id != citation.article_id:
            raise CitationError(f"[{citation.number}] names no listed source")
        _check_quoted_span(f"[{citation.number}]", citation, passages, articles)
    _verify_short_answers(answer, kb, sources)
    _verify_corroboration(answer, kb, sources)
    sentences = cited_sentences(answer)  # raises unless they tile the text
    if answer.method != "llm":
        return  # each sentence is its quote, compared with the stored text above
    for sentence in sentences:
        problem = markup_problem(sentence.text)
        if problem is not None:
            raise CitationError(f"a written sentence {problem}")
        support = check_support(
            sentence.text,
            [
                supporting_text(articles[c.article_id], passages[c.passage_id])
                for c in sentence.citations
            ],
        )
        if not support.holds(min_support):
            raise CitationError(
                f"{sentence.text!r} is not supported by what it cites ({support.describe()})"
            )
