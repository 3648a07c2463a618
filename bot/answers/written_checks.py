"""A model's reply read into cited sentences, and each sentence checked before it is shown.

One check serves the whole reply and the streamed one alike (:class:`SentenceChecks`):
a sentence without a citation, citing a passage it was not given, holding a link, HTML
or a mention, saying more than its passages do (:mod:`bot.answers.support`) or going
over the word budget is dropped; a kept one is tied to the passage sentence that backs
it. :func:`check_reply` checks a whole reply; :class:`StreamedReply` checks one as it
arrives, sentence by sentence, and ends with exactly what :func:`check_reply` gives for
the same text.

A streamed sentence is complete, and checked, once a later cited sentence has started
(its own citation markers can no longer grow, nor can text after them join it), or when
the reply ends. The parse of the text so far is redone whenever a marker closes, so the
complete sentences are those of the very parse the whole reply gets.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answers.citations import Quote, compose_written
from bot.answers.support import best_evidence, check_support, supporting_text
from bot.answers.text import word_count
from bot.answers.untrusted import clean_reply, markup_problem
from index import Article, Passage
from index.passages.sentences import split_sentences

log = logging.getLogger(__name__)

__all__ = [
    "MAX_NOTES",
    "MAX_REPLY_CHARS",
    "MAX_SENTENCES",
    "NOT_FOUND",
    "KeptSentence",
    "SentenceChecks",
    "Sources",
    "StreamedReply",
    "WrittenAnswer",
    "WrittenSentence",
    "check_reply",
    "parse_reply",
    "text_reporter",
]

NOT_FOUND = "NOT FOUND"
# Bounds on what one reply can cost. The word budgets (at most 2,000 words) fit well
# inside MAX_REPLY_CHARS.
MAX_REPLY_CHARS = 16_000
MAX_SENTENCES = 40  # written sentences checked; the rest are not read
MAX_NOTES = 5  # notes on dropped sentences, one per reason; past it, one says how many more
# A run of citation markers: "[1]", "[1][3]", "[1, 3]", " [2] [4]".
_MARKER_RUN = r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+"
_MARKERS = re.compile(_MARKER_RUN)
_NUMBERS = re.compile(r"\d+")
# A marker put before the full stop ("... agreed [1].") is moved after it.
_MARKER_BEFORE_STOP = re.compile(rf"({_MARKER_RUN})\s*([.!?])(?=\s|$)")

# The passages a model writes from: each with its article, numbered [1], [2]... in order.
Sources = Sequence[tuple[Article, Passage]]
# A kept sentence and the stored sentences (one per cited passage) that back it.
KeptSentence = tuple[str, tuple[Quote, ...]]


@dataclass(frozen=True)
class WrittenSentence:
    """A sentence the model wrote and the passages (positions in the prompt) it cites."""

    text: str
    cited: tuple[int, ...]  # 1-based passage numbers, as in the prompt


@dataclass(frozen=True)
class WrittenAnswer:
    """The checked result: sentences kept with their evidence quotes, and what was dropped."""

    sentences: tuple[KeptSentence, ...]
    dropped: tuple[str, ...]
    not_found: bool = False


# -- reading the reply ---------------------------------------------------------------------


def _continues(sentences: Sequence[WrittenSentence], segment: str) -> bool:
    """Whether text after a marker carries on the sentence before it ("said [1], and")."""
    head = segment.lstrip()[:1]
    return (
        bool(sentences)
        and not sentences[-1].text.endswith((".", "!", "?"))
        and bool(head)
        and (head in ",;:)" or head.islower())
    )


def _join(sentence: str, continuation: str) -> str:
    return sentence + ("" if continuation[0] in ",;:)" else " ") + continuation


def parse_reply(reply: str) -> tuple[list[WrittenSentence], list[str]]:
    """The cited sentences of `reply`, and the text of sentences that cite nothing.

    Markers normally close a sentence; a marker in mid-sentence ("Biden said [1], and
    Kishida agreed [2].") cites the sentence it stands in, which then carries both.
    """
    text = _MARKER_BEFORE_STOP.sub(r"\2\1", reply.strip())
    sentences: list[WrittenSentence] = []
    uncited: list[str] = []
    position = 0
    for match in _MARKERS.finditer(text):
        segment = text[position : match.start()]
        position = match.end()
        cited = tuple(dict.fromkeys(int(n) for n in _NUMBERS.findall(match.group())))
        pieces = [segment[s.start : s.end] for s in split_sentences(segment)]
        if not pieces:
            continue  # a second run of markers, as in "[1] [2]" split by a line break
        if _continues(sentences, segment):
            previous = sentences.pop()
            joined = _join(previous.text, pieces[0])
            if len(pieces) == 1:
                cited = tuple(dict.fromkeys(previous.cited + cited))
                pieces = [joined]
            else:
                sentences.append(WrittenSentence(joined, previous.cited))
                pieces = pieces[1:]
        # Only the last sentence before the markers is the one they belong to.
        uncited.extend(pieces[:-1])
        sentences.append(WrittenSentence(" ".join(pieces[-1].split()), cited))
    tail = text[position:]
    if _continues(sentences, tail):
        # "... agreed [1], officials said." — the rest of a cited sentence.
        first, *rest = [tail[s.start : s.end] for s in split_sentences(tail)]
        previous = sentences.pop()
        sentences.append(WrittenSentence(_join(previous.text, first), previous.cited))
        tail = " ".join(rest)
    uncited.extend(
        tail[s.start : s.end]
        for s in split_sentences(tail)
        if any(ch.isalnum() for ch in tail[s.start : s.end])
    )
    return sentences, uncited


def says_not_found(reply: str) -> bool:
    """Whether the model said, and only said, that the passages hold no answer."""
    return clean_reply(reply).strip().strip(".").upper() == NOT_FOUND


# -- checking it ------------------------------------------------------------------------------


class SentenceChecks:
    """The checks of one reply's written sentences, taken one at a time and in order: the
    only place a written sentence is judged, whether the reply came whole or streamed."""

    def __init__(self, passages: Sources, *, word_budget: int, min_support: float) -> None:
        self._passages = passages
        self._word_budget = word_budget
        self._min_support = min_support
        self._words_used = 0
        self.kept: list[KeptSentence] = []
        self.problems: list[str] = []  # why each dropped sentence was, in order

    def check(self, sentence: WrittenSentence) -> KeptSentence | None:
        """`sentence` kept with its evidence, or None (and the reason noted) when dropped."""
        problem = self._problem(sentence)
        if problem is None and self._words_used + word_count(sentence.text) > self._word_budget:
            problem = f"over the {self._word_budget}-word budget"
        if problem is not None:
            self.problems.append(problem)
            log.debug("dropped a written sentence (%s): %r", problem, sentence.text)
            return None
        quotes = tuple(_evidence(sentence, *self._passages[n - 1]) for n in sentence.cited)
        kept = (sentence.text, quotes)
        self.kept.append(kept)
        self._words_used += word_count(sentence.text)
        return kept

    def _problem(self, sentence: WrittenSentence) -> str | None:
        passages = self._passages
        unknown = [n for n in sentence.cited if not 1 <= n <= len(passages)]
        if unknown:
            return "cites a passage it was not given"
        markup = markup_problem(sentence.text)
        if markup is not None:
            return markup
        cited = [passages[n - 1] for n in sentence.cited]
        support = check_support(
            sentence.text, [supporting_text(article, passage) for article, passage in cited]
        )
        if not support.holds(self._min_support):
            log.debug("unsupported: %s", support.describe())
            return f"not supported by its sources ({support.kinds()})"
        return None

    def result(self, uncited: Sequence[str], notes: Sequence[str]) -> WrittenAnswer:
        """The checked answer: the kept sentences, and why the others were dropped."""
        # Why each dropped sentence was dropped, never its words: they are the model's and
        # failed the checks (an invented name, a link), so they are not shown, notes
        # included. The operator's debug log has them.
        reasons: Counter[str] = Counter()
        for text in uncited:
            reasons["no citation"] += 1
            log.debug("dropped a written sentence (no citation): %r", text)
        for problem in self.problems:
            reasons[problem] += 1
        dropped = [
            f"{count} written sentence{'s' if count > 1 else ''} dropped: {reason}"
            for reason, count in reasons.most_common()
        ]
        if len(dropped) > MAX_NOTES:
            more = sum(count for _, count in reasons.most_common()[MAX_NOTES - 1 :])
            dropped = [*dropped[: MAX_NOTES - 1], f"and {more} more sentences dropped"]
        return WrittenAnswer(tuple(self.kept), (*notes, *dropped))


def _evidence(sentence: WrittenSentence, article: Article, passage: Passage) -> Quote:
    span = best_evidence(sentence.text, article.text, passage.sentences)
    return Quote(article, passage, span.start, span.end)


def _read(reply: str) -> tuple[list[WrittenSentence], list[str], list[str]]:
    """The sentences of a whole reply that are read, the uncited ones, and the notes on
    what was not read."""
    notes: list[str] = []
    if len(reply) > MAX_REPLY_CHARS:
        notes.append(f"the reply was cut at {MAX_REPLY_CHARS:,} characters")
        reply = reply[:MAX_REPLY_CHARS]
    written, uncited = parse_reply(clean_reply(reply))
    if len(written) > MAX_SENTENCES:
        notes.append(f"{len(written) - MAX_SENTENCES} more sentences were not read")
        written = written[:MAX_SENTENCES]
    return written, uncited, notes


def check_reply(
    reply: str,
    passages: Sources,
    *,
    word_budget: int,
    min_support: float,
    may_decline: bool = True,
) -> WrittenAnswer:
    """A whole reply, checked sentence by sentence; with `may_decline`, a reply saying
    only NOT_FOUND is the model declining."""
    if may_decline and says_not_found(reply):
        return WrittenAnswer((), (), not_found=True)
    written, uncited, notes = _read(reply)
    checks = SentenceChecks(passages, word_budget=word_budget, min_support=min_support)
    for sentence in written:
        checks.check(sentence)
    return checks.result(uncited, notes)


class StreamedReply:
    """A reply read as it arrives: each sentence checked once it is complete.

    `add` takes the next piece of the reply and returns the sentences it let through the
    checks; `finish` gives the checked answer, the same as :func:`check_reply` on the
    whole text. The sentences let through on the way are, in practice always, the first
    of the finished answer's; should the whole text read otherwise, the finished answer
    (checked afresh) is what counts, and `finished_as_streamed` says it differs.
    """

    def __init__(
        self,
        passages: Sources,
        *,
        word_budget: int,
        min_support: float,
        may_decline: bool = True,
    ) -> None:
        self._passages = passages
        self._word_budget = word_budget
        self._min_support = min_support
        self._may_decline = may_decline
        self._text = ""
        self._over = False  # more came than MAX_REPLY_CHARS
        self._complete: list[WrittenSentence] = []
        self._checks = SentenceChecks(passages, word_budget=word_budget, min_support=min_support)
        self.finished_as_streamed = True

    @property
    def full(self) -> bool:
        """Whether the reply reached MAX_REPLY_CHARS: nothing more will be read."""
        return self._over

    @property
    def kept(self) -> tuple[KeptSentence, ...]:
        """The sentences let through so far."""
        return tuple(self._checks.kept)

    def add(self, piece: str) -> list[KeptSentence]:
        """Read the next `piece`; the sentences it completed that passed the checks."""
        if self._over:
            return []
        room = MAX_REPLY_CHARS - len(self._text)
        if len(piece) > room:
            self._over = True
            piece = piece[:room]
        self._text += piece
        # A sentence completes when a later one is cited: only a closing bracket can do that.
        if "]" not in piece:
            return []
        written, _ = parse_reply(clean_reply(self._text))
        complete = written[: min(len(written) - 1, MAX_SENTENCES)]
        kept: list[KeptSentence] = []
        for sentence in complete[len(self._complete) :]:
            self._complete.append(sentence)
            verdict = self._checks.check(sentence)
            if verdict is not None:
                kept.append(verdict)
        return kept

    def finish(self) -> WrittenAnswer:
        """The checked answer of the whole reply read (what check_reply gives for it)."""
        reply = self._text + ("\u2026" if self._over else "")  # past the cut: noted as cut
        if self._may_decline and says_not_found(reply):
            return WrittenAnswer((), (), not_found=True)
        written, uncited, notes = _read(reply)
        checks = self._checks
        if written[: len(self._complete)] != self._complete:
            self.finished_as_streamed = False
            checks = SentenceChecks(
                self._passages, word_budget=self._word_budget, min_support=self._min_support
            )
            done = 0
        else:
            done = len(self._complete)
        for sentence in written[done:]:
            checks.check(sentence)
        return checks.result(uncited, notes)


def text_reporter(
    on_text: Callable[[str], None] | None,
) -> Callable[[tuple[KeptSentence, ...]], None] | None:
    """`on_text` told the text of the written sentences kept so far, as the answer
    composes it (markers numbered by first citation, so each text is a prefix of the
    next, and of the finished answer's text)."""
    if on_text is None:
        return None

    def on_kept(kept: tuple[KeptSentence, ...]) -> None:
        on_text(compose_written(kept)[0])

    return on_kept
