"""The answer service: one object that every front end (CLI, Discord, evaluation) calls.

It holds no per-request state, so one instance is safe to call from several threads at
once; the knowledge base below it is thread-safe, and the small cache of term rarities
is guarded by a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from bot.answers.citations import (
    DEFAULT_MIN_SUPPORT,
    CitationError,
    Quote,
    compose,
    compose_written,
    source_of,
    verify,
)
from bot.answers.corroboration import corroborate
from bot.answers.drafting import Draft, draft_answer
from bot.answers.extractive import TermWeights, rarity_from_frequency
from bot.answers.llm import LLMError, LLMWriter, WrittenAnswer
from bot.answers.models import Answer, DateWindow, Source, Timings
from bot.answers.retrieval import RankedPassage, RetrievalRequest, Retriever
from bot.answers.source_policy import SourcePolicy
from bot.answers.text import content_terms, is_link_line, stem, stems, word_count, words
from bot.answers.timewindow import TimeIntent, TimeWindow, parse_time_intent
from bot.answers.written_checks import text_reporter
from bot.config import AnswerConfig
from index import Article, KnowledgeBase, NotFoundError, Passage, SearchMode

__all__ = ["AnswerService", "Retrieved"]

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# The passages of one article a written summary is made from (its first ones).
WRITTEN_SUMMARY_PASSAGES = 10


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found for a question, before any sentence is chosen."""

    question: str
    search_query: str
    passages: tuple[RankedPassage, ...]
    intent: TimeIntent
    window: DateWindow | None
    retrieve_ms: float


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _describe_strict(since: date | None, until: date | None) -> str:
    window = TimeWindow(since=since, until=until, expression="")
    return window.describe()


class AnswerService:
    """Questions in, cited answers out; also article and topic summaries."""

    def __init__(
        self,
        kb: KnowledgeBase,
        config: AnswerConfig | None = None,
        *,
        today: Callable[[], date] = date.today,
        writer: LLMWriter | None = None,
        sources: SourcePolicy | None = None,
    ) -> None:
        self.kb = kb
        self.config = config or AnswerConfig()
        # With a writer, answers are written by a language model (and checked against
        # their sources); without one, or when it fails, they are the quoted sentences.
        self.writer = writer
        self._today = today
        # Sources to prefer or leave out (a Discord server's `/settings`).
        self.sources = sources or SourcePolicy()
        self._retriever = Retriever(kb, self.config, self.sources)
        self._rarity: dict[str, float] = {}
        self._rarity_lock = threading.Lock()

    def with_config(self, **changes: object) -> AnswerService:
        """A service like this one with some answer settings changed (same knowledge
        base, writer and clock): what the evaluation uses to switch declining off."""
        return AnswerService(
            self.kb,
            self.config.model_copy(update=changes),
            today=self._today,
            writer=self.writer,
        )

    # -- asking -----------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        *,
        since: date | None = None,
        until: date | None = None,
        as_of: date | None = None,
        mode: SearchMode = "hybrid",
        outlet: str | None = None,
        country: str | None = None,
        context: Sequence[str] = (),
        inherited_window: TimeWindow | None = None,
        keep: int | None = None,
    ) -> Retrieved:
        started = time.perf_counter()
        as_of = as_of or self._today()
        question = question.strip()[:MAX_QUESTION_CHARS]
        intent = parse_time_intent(question, as_of)
        preferred = intent.window or inherited_window
        search_query = " ".join([*context, intent.stripped_question]).strip()
        window: DateWindow | None = None
        if since or until:
            window = DateWindow(since, until, _describe_strict(since, until), strict=True)
        elif preferred is not None:
            window = DateWindow(
                preferred.since,
                preferred.until,
                preferred.describe(),
                strict=False,
                expression=preferred.expression,
            )
        passages: list[RankedPassage] = []
        if words(search_query):
            passages = self._retriever.retrieve(
                RetrievalRequest(
                    query=search_query,
                    as_of=as_of,
                    mode=mode,
                    since=since,
                    until=until,
                    outlet=outlet,
                    country=country,
                    preferred=None if (since or until) else preferred,
                    prefer_recent=intent.prefer_recent,
                ),
                keep=keep,
            )
        return Retrieved(
            question=question,
            search_query=search_query,
            passages=tuple(passages),
            intent=intent,
            window=window,
            retrieve_ms=(time.perf_counter() - started) * 1000,
        )

    def ask(
        self,
        question: str,
        *,
        since: date | None = None,
        until: date | None = None,
        as_of: date | None = None,
        mode: SearchMode = "hybrid",
        outlet: str | None = None,
        country: str | None = None,
        context: Sequence[str] = (),
        inherited_window: TimeWindow | None = None,
        already_shown: frozenset[tuple[int, int]] = frozenset(),
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """A short answer whose every sentence is a cited quote, or a plain refusal.

        `context` holds earlier questions of a conversation (a follow-up is searched with
        them), `inherited_window` their dates, `already_shown` the sentences (article id,
        start) earlier answers quoted, which are not repeated. `on_text`: see `answer_from`.
        """
        started = time.perf_counter()
        original = question
        if not question.strip():
            return self._refuse(original, "Please ask a question: the message was empty.")
        retrieved = self.retrieve(
            question,
            since=since,
            until=until,
            as_of=as_of,
            mode=mode,
            outlet=outlet,
            country=country,
            context=context,
            inherited_window=inherited_window,
        )
        return self.answer_from(
            retrieved,
            original=original,
            context=context,
            started=started,
            already_shown=already_shown,
            on_text=on_text,
        )

    def answer_from(
        self,
        retrieved: Retrieved,
        *,
        original: str | None = None,
        context: Sequence[str] = (),
        started: float | None = None,
        already_shown: frozenset[tuple[int, int]] = frozenset(),
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer to an already retrieved question (the evaluation reuses retrieval).

        With `on_text` and a writer, the reply is streamed and `on_text` (called in this
        thread) told the text so far each time one more written sentence passes its
        checks: each text a prefix of the next, and of the written answer's; when the
        answer is not the written one after all, its notes say why. Same answer either way.
        """
        started = time.perf_counter() if started is None else started
        original = retrieved.question if original is None else original
        passages = retrieved.passages[: self.config.passages]
        retrieved = Retrieved(**{**retrieved.__dict__, "passages": passages})
        if not words(retrieved.search_query):
            return self._refuse(
                original,
                "I couldn't find any words to search for in that question. "
                "Try asking it in plain words.",
            )
        answer_started = time.perf_counter()
        decline_reason = self._decline_reason(retrieved)
        draft: Draft | None = None
        if decline_reason is None:
            weights = TermWeights.build(
                retrieved.intent.stripped_question, context, self._rarity_for_question()
            )
            draft = draft_answer(
                retrieved.intent.stripped_question,
                retrieved.passages,
                weights,
                self.config,
                exclude=already_shown,
            )
            if draft.confidence < self.config.min_confidence:
                decline_reason = (
                    f"confidence {draft.confidence:.2f} is under {self.config.min_confidence:.2f}"
                )
        confidence = draft.confidence if draft is not None else None
        notes: tuple[str, ...] = ()
        if len(original.strip()) > MAX_QUESTION_CHARS:
            notes = (f"only the first {MAX_QUESTION_CHARS} characters were used",)

        def timings() -> Timings:  # taken at the very end
            return Timings(
                retrieve_ms=retrieved.retrieve_ms,
                answer_ms=(time.perf_counter() - answer_started) * 1000,
                total_ms=(time.perf_counter() - started) * 1000,
            )

        text = ""
        method = "extractive"
        if decline_reason is None:
            question = original.strip()[:MAX_QUESTION_CHARS]
            written, more_notes = self._written(
                lambda writer: writer.write_answer(
                    question,
                    [(r.hit.article, r.hit.passage) for r in retrieved.passages],
                    word_budget=self.config.word_budget,
                    context=context,
                    on_kept=text_reporter(on_text),
                )
            )
            notes = (*notes, *more_notes)
            if written is not None and written.not_found:
                decline_reason = f"{self.model_name} found no answer in the sources"
            elif written is not None and written.sentences:
                text, citations, sources = compose_written(written.sentences)
                method = "llm"
        if decline_reason is not None or draft is None:
            log.debug("declined %r: %s", original[:80], decline_reason)
            return Answer(
                question=original,
                text=self._decline_text(retrieved),
                citations=(),
                sources=self._closest_sources(retrieved.passages),
                declined=True,
                window=retrieved.window,
                timings=timings(),
                search_query=retrieved.search_query,
                confidence=confidence,
                notes=(*notes, decline_reason or "no answer"),
                evidence=draft.evidence if draft is not None else None,
            )
        if method == "extractive":
            text, citations, sources = compose(draft.quotes)
        short_answers, candidates, sources = draft.short_answers(
            sources, text if method == "llm" else None
        )
        answer = Answer(
            question=original,
            text=text,
            citations=citations,
            sources=sources,
            declined=False,
            window=retrieved.window,
            timings=timings(),
            method=method,
            search_query=retrieved.search_query,
            confidence=confidence,
            notes=notes,
            short_answers=short_answers,
            candidates=candidates,
            evidence=draft.evidence,
        )
        return self._checked(answer)

    def _decline_reason(self, retrieved: Retrieved) -> str | None:
        if not retrieved.passages:
            return "no passage matched"
        best = max(p.similarity for p in retrieved.passages)
        if best < self.config.min_relevance:
            return f"the closest passage is too far from the question ({best:.2f})"
        return None

    def _decline_text(self, retrieved: Retrieved) -> str:
        count = self.kb.article_count()
        where = ""
        if retrieved.window is not None and retrieved.window.strict:
            where = f" from {retrieved.window.description}"
        text = f"I couldn't find this in the {_plural(count, 'article')} I have{where}."
        if retrieved.passages:
            text += " The closest sources I found are listed below, but they don't answer it."
        return text

    def _closest_sources(self, passages: Sequence[RankedPassage]) -> tuple[Source, ...]:
        seen: dict[int, Source] = {}
        for ranked in passages:
            article = ranked.hit.article
            if article.id not in seen and len(seen) < 3:
                seen[article.id] = source_of(len(seen) + 1, article)
        return tuple(seen.values())

    @property
    def model_name(self) -> str:
        return self.writer.model if self.writer is not None else "extractive"

    def _written(
        self, write: Callable[[LLMWriter], WrittenAnswer]
    ) -> tuple[WrittenAnswer | None, tuple[str, ...]]:
        """What the writer wrote (None without a writer, or when the server failed) and the
        notes to show: what was dropped, or why the text is quoted instead."""
        if self.writer is None:
            return None, ()
        try:
            written = write(self.writer)
        except LLMError as exc:
            log.warning("written text unavailable, quoting instead: %s", exc)
            return None, (f"the language model is unavailable ({exc}); quoting instead",)
        notes = written.dropped
        if not written.not_found and not written.sentences:
            notes = (*notes, "no written sentence held up against its sources; quoting")
        return written, notes

    def _written_summary(
        self,
        subject: str,
        sources: Sequence[tuple[Article, Passage]],
        *,
        order: str,
        on_text: Callable[[str], None] | None = None,
    ) -> tuple[WrittenAnswer | None, tuple[str, ...]]:
        return self._written(
            lambda writer: writer.write_summary(
                subject,
                sources,
                sentences=self.config.summary_sentences,
                word_budget=self.config.summary_word_budget,
                order=order,
                on_kept=text_reporter(on_text),
            )
        )

    def _refuse(self, question: str, text: str) -> Answer:
        return Answer(
            question=question,
            text=text,
            citations=(),
            sources=(),
            declined=True,
            window=None,
            timings=Timings(),
        )

    def _checked(self, answer: Answer) -> Answer:
        try:
            verify(
                answer,
                self.kb,
                min_support=(
                    self.writer.config.min_support if self.writer else DEFAULT_MIN_SUPPORT
                ),
            )
        except CitationError as exc:
            # Never show an answer whose citations do not hold; say so instead.
            log.error("answer failed citation check (%s); declining: %r", exc, answer.text)
            return Answer(
                question=answer.question,
                text="I found sources but could not check my answer against them, "
                "so I won't give one. Please try rephrasing.",
                citations=(),
                sources=(),
                declined=True,
                window=answer.window,
                timings=answer.timings,
                kind=answer.kind,
                notes=(*answer.notes, f"citation check failed: {exc}"),
            )
        return answer

    def _rarity_for_question(self) -> Callable[[str], float]:
        """A term's rarity, for the words of one question: the library's size is read
        once for them all (on Milvus a count is a request), and only if a word is not
        cached."""
        size: list[int] = []

        def rarity(term: str) -> float:
            with self._rarity_lock:
                cached = self._rarity.get(term)
            if cached is not None:
                return cached
            if not size:
                size.append(self.kb.passage_count())
            frequency = self.kb.document_frequency(term, passage_count=size[0])
            value = rarity_from_frequency(frequency, max(size[0], 1))
            with self._rarity_lock:
                if len(self._rarity) > 50_000:
                    self._rarity.clear()
                self._rarity[term] = value
            return value

        return rarity

    # -- summaries --------------------------------------------------------------------

    def summarize_article(
        self, article_id: int, *, on_text: Callable[[str], None] | None = None
    ) -> Answer:
        """About `summary_sentences` sentences of one article, in its order, each cited
        (`on_text`: as in `ask`)."""
        started = time.perf_counter()
        article = self.kb.get_article(article_id)
        passages = self.kb.passages_of(article_id)
        if not passages:
            raise NotFoundError(f"article {article_id} has no passages")
        # A long article's first passages carry its story; the model reads at most these.
        written, notes = self._written_summary(
            f"the article \u201c{article.title}\u201d",
            [(article, passage) for passage in passages[:WRITTEN_SUMMARY_PASSAGES]],
            order="in the order of the article",
            on_text=on_text,
        )
        method = "extractive"
        if written is not None and written.sentences:
            text, citations, sources = compose_written(written.sentences)
            method = "llm"
        else:
            text, citations, sources = compose(self._article_summary_quotes(article, passages))
        day = article.published.date() if article.published else None
        answer = Answer(
            question=f"Summary of article {article_id}: {article.title}",
            text=text,
            citations=citations,
            sources=sources,
            declined=False,
            window=None,
            timings=Timings(total_ms=(time.perf_counter() - started) * 1000),
            kind="article_summary",
            method=method,
            coverage=(day, day),
            notes=notes,
        )
        return self._checked(answer)

    def _article_summary_quotes(self, article: Article, passages: Sequence[Passage]) -> list[Quote]:
        """The lede and the sentences nearest the article's centre, in its order."""
        quotes: list[Quote] = []
        seen: set[tuple[int, int]] = set()
        for passage in passages:
            for span in passage.sentences:
                if (span.start, span.end) in seen:
                    continue
                seen.add((span.start, span.end))
                quote = Quote(article, passage, span.start, span.end)
                if word_count(quote.text) >= 4 and not is_link_line(quote.text):
                    quotes.append(quote)
        vectors = self.kb.passage_vectors([p.id for p in passages])
        centroid = _unit(np.mean([vectors[p.id] for p in passages], axis=0))
        # News puts the most important sentence first: the lede is always in.
        lede, rest = quotes[:1], quotes[1:150]
        chosen = lede + self._central_sentences(
            rest,
            centroid,
            position_weight=0.3,
            count=self.config.summary_sentences - 1,
            word_budget=self.config.summary_word_budget - sum(word_count(q.text) for q in lede),
        )
        chosen.sort(key=lambda q: q.start)
        return chosen

    def summarize_topic(
        self,
        topic: str,
        *,
        since: date | None = None,
        until: date | None = None,
        as_of: date | None = None,
    ) -> Answer:
        """What the articles say about `topic`, across sources, in time order, each cited."""
        started = time.perf_counter()
        if not topic.strip() or not words(topic):
            return self._refuse(topic, "Please name a topic to summarise.")
        retrieved = self.retrieve(
            topic, since=since, until=until, as_of=as_of, keep=max(self.config.passages, 10)
        )
        reason = self._decline_reason(retrieved)
        if reason is not None:
            answer = self._refuse(topic, self._decline_text(retrieved))
            return Answer(
                **{
                    **answer.__dict__,
                    "sources": self._closest_sources(retrieved.passages),
                    "kind": "topic_summary",
                    "window": retrieved.window,
                    "notes": (reason,),
                }
            )
        relevant = [r for r in retrieved.passages if r.similarity >= self.config.min_relevance]
        # Oldest first, so that the model can tell the story in time order.
        by_date = sorted(
            relevant, key=lambda r: (r.hit.article.published is None, r.hit.article.published)
        )
        written, notes = self._written_summary(
            f"what these passages say about: {topic}",
            [(r.hit.article, r.hit.passage) for r in by_date],
            order="in time order, oldest first",
        )
        method = "extractive"
        if written is not None and written.sentences:
            text, citations, sources = compose_written(written.sentences)
            method = "llm"
            chosen = [quote for _, quotes in written.sentences for quote in quotes]
        else:
            chosen = self._topic_summary_quotes(retrieved, relevant)
            if not chosen:
                answer = self._refuse(topic, self._decline_text(retrieved))
                return Answer(**{**answer.__dict__, "kind": "topic_summary"})
            text, citations, sources = compose(chosen)
        corroboration, sources = corroborate(chosen, relevant, sources)
        days = [q.article.published.date() for q in chosen if q.article.published]
        answer = Answer(
            question=topic,
            text=text,
            citations=citations,
            sources=sources,
            declined=False,
            window=retrieved.window,
            timings=Timings(
                retrieve_ms=retrieved.retrieve_ms,
                total_ms=(time.perf_counter() - started) * 1000,
            ),
            kind="topic_summary",
            method=method,
            search_query=retrieved.search_query,
            coverage=(min(days), max(days)) if days else None,
            notes=notes,
            corroboration=corroboration,
        )
        return self._checked(answer)

    def _topic_summary_quotes(
        self, retrieved: Retrieved, relevant: Sequence[RankedPassage]
    ) -> list[Quote]:
        """Central sentences on the topic from the relevant passages, in time order."""
        query_vector = self.kb.embedder.embed_query(retrieved.search_query)
        topic_terms = {stem(t) for t in content_terms(retrieved.intent.stripped_question)}
        quotes: list[Quote] = []
        for ranked in relevant:
            article, passage = ranked.hit.article, ranked.hit.passage
            for span in passage.sentences:
                quote = Quote(article, passage, span.start, span.end)
                if (
                    word_count(quote.text) >= 6
                    and topic_terms & stems(quote.text)
                    and not is_link_line(quote.text)
                ):
                    quotes.append(quote)
        centroid = _unit(np.mean([r.vector for r in relevant], axis=0) + query_vector)
        chosen = self._central_sentences(
            quotes[:120],
            centroid,
            position_weight=0.05,
            count=self.config.summary_sentences + 1,
            word_budget=self.config.summary_word_budget,
        )
        chosen.sort(key=lambda q: (q.article.published is None, q.article.published, q.start))
        return chosen

    def _central_sentences(
        self,
        quotes: Sequence[Quote],
        centroid: np.ndarray,
        *,
        position_weight: float,
        count: int,
        word_budget: int,
    ) -> list[Quote]:
        """Centroid ranking with redundancy removal: the sentences nearest the centre of
        the text, skipping any too similar to one already chosen."""
        if not quotes:
            return []
        vectors = self.kb.embedder.embed_documents([q.text for q in quotes])
        n = len(quotes)
        scores = vectors @ centroid + position_weight * (1 - np.arange(n) / max(n, 1))
        chosen: list[int] = []
        used = 0
        for index in np.argsort(-scores):
            i = int(index)
            if any(float(vectors[i] @ vectors[j]) > 0.8 for j in chosen):
                continue
            length = word_count(quotes[i].text)
            if chosen and used + length > word_budget:
                continue
            chosen.append(i)
            used += length
            if len(chosen) >= count:
                break
        return [quotes[i] for i in chosen]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
