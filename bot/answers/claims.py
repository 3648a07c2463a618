"""What a sentence asserts beyond its words: the names, figures, dates and negations in it.

Comparing content words passes "The deal does not cover visa rules" against a source that
says it does ("not" is a stop word) and "..., according to Vladimir Putin" against a
source that names no Putin (two words are a small share of a sentence). These are the
parts of a sentence where one word changes what it claims, so the support check
(:mod:`bot.answers.support`) requires each of them to be backed by what the sentence cites:

* names: capitalised words ("Xi Jinping", "the European Union", "U.S."), by their stems;
* figures: numbers in digits or words ("3.5", "1,200", "three", "$2bn", "five million"),
  by value, with their magnitude;
* dates: month and weekday names, abbreviations included ("Sept. 11" is September);
* negations: what a negator ("not", "no", "never", "n't", "neither"/"nor", "without",
  "denied", "refused to"...) applies to, and what the sources deny.

All lexical and English: regular expressions over a sentence and its passages, fast
enough to run on every written sentence. A paraphrase that changes meaning without
changing these words (an antonym, "agreed" for "failed to agree" said otherwise) is not
caught; docs/security.md says what is and is not defended.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.answers.text import content_terms, stem
from index.storage.stopwords import STOPWORDS

__all__ = [
    "Figure",
    "Negation",
    "Polarity",
    "dates_in",
    "figure_is_backed",
    "figures_backed",
    "figures_in",
    "name_keys",
    "names_in",
    "negation_problem",
    "polarity",
]

# Words, with acronyms ("U.S.", "e.g.") whole, single punctuation marks and line breaks
# (a title, an outlet, a paragraph ends there).
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W_]+(?:['\u2019][^\W_]+)*|[^\w\s]|\n")


@dataclass(frozen=True)
class _Token:
    text: str
    start: int

    @property
    def lower(self) -> str:
        return self.text.lower().replace("\u2019", "'")

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group(), m.start()) for m in _TOKEN.finditer(text)]


def _key(word: str) -> str:
    """How a name is compared: lower case, dots and accents gone ("U.S." is "us",
    "Erdoğan" is "erdogan"), stemmed."""
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch)
    )
    return stem(plain.replace(".", "").lower())


# -- dates -----------------------------------------------------------------------------------

_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_DATE_NAMES = {name: name for name in (*_MONTHS, *_WEEKDAYS)}
# Abbreviations count as dates only before a full stop or a day number ("Jan. 5",
# "Sept 11"), since "Jan", "Sun" and "Sat" are also names and words.
_DATE_ABBREVIATIONS = {
    **{m[:3]: m for m in _MONTHS if m != "may"},
    "sept": "september",
    **{d[:3]: d for d in _WEEKDAYS},
    "tues": "tuesday",
    "thur": "thursday",
    "thurs": "thursday",
}


def _date_of(tokens: Sequence[_Token], i: int, text: str) -> str | None:
    """The month or weekday token `i` names (capitalised, as English writes them), or None."""
    word = tokens[i].text
    if not word[:1].isupper():
        return None
    lower = tokens[i].lower
    if lower in _DATE_NAMES:
        return _DATE_NAMES[lower]
    if lower in _DATE_ABBREVIATIONS:
        after = text[tokens[i].start + len(word) :]
        if after.startswith(".") or re.match(r"\s+\d", after):
            return _DATE_ABBREVIATIONS[lower]
    return None


def dates_in(text: str) -> dict[str, str]:
    """The months and weekdays `text` names: {"september": "Sept", ...} (canonical: as written)."""
    tokens = _tokens(text)
    found: dict[str, str] = {}
    for i in range(len(tokens)):
        date = _date_of(tokens, i, text)
        if date is not None:
            found.setdefault(date, tokens[i].text)
    return found


# -- figures ---------------------------------------------------------------------------------

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_MAGNITUDES = {
    "hundred": 10**2, "thousand": 10**3, "million": 10**6, "billion": 10**9,
    "trillion": 10**12,
}  # fmt: skip
_SUFFIXES = {
    "k": 10**3, "m": 10**6, "mn": 10**6, "mln": 10**6, "b": 10**9, "bn": 10**9,
    "tn": 10**12, "trn": 10**12,
}  # fmt: skip
# A figure in digits ("3.5", "1,200", "$2bn": a magnitude suffix is read with it), or a word.
_FIGURE_PIECE = re.compile(
    r"(?P<digits>\d+(?:[.,]\d+)*)(?:(?P<suffix>k|mn|mln|m|bn|b|tn|trn)(?![A-Za-z]))?"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<other>[^\sA-Za-z\d-])"
)


@dataclass(frozen=True)
class Figure:
    """A number as written ("3.5bn"), its numeral (3.5) and its value (3500000000)."""

    surface: str
    numeral: Decimal
    value: Decimal
    has_magnitude: bool


def figures_in(text: str) -> list[Figure]:
    """The numbers `text` states, in order: digits, number words and their magnitudes.

    "one" alone is not a figure ("one official said"), but "twenty-one" and "one million"
    are; nor are plural magnitudes ("thousands of people") or ordinals ("first").
    """
    pieces = [m for m in _FIGURE_PIECE.finditer(text)]
    figures: list[Figure] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        word = (piece.group("word") or "").lower()
        numeral: Decimal | None = None
        magnitude = 1
        end = i + 1
        if piece.group("digits"):
            digits = piece.group("digits").replace(",", "")
            try:
                numeral = Decimal(digits)
            except InvalidOperation:  # "10.0.0.1", "1.2.3": compared digit for digit
                numeral = Decimal(re.sub(r"\D", "", digits))
            magnitude = _SUFFIXES.get(piece.group("suffix") or "", 1)
        elif word in _TENS:
            numeral = Decimal(_TENS[word])
            following = _word(pieces, end)
            if following in _UNITS and 0 < _UNITS[following] < 10:
                numeral += _UNITS[following]
                end += 1
        elif word in _UNITS and (word != "one" or _word(pieces, end) in _MAGNITUDES):
            numeral = Decimal(_UNITS[word])
        elif word in _MAGNITUDES:  # "a million", "hundred"
            numeral = Decimal(1)
            magnitude = _MAGNITUDES[word]
        if numeral is None:
            i += 1
            continue
        if magnitude == 1 and _word(pieces, end) in _MAGNITUDES:
            magnitude = _MAGNITUDES[_word(pieces, end)]
            end += 1
        surface = text[piece.start() : pieces[end - 1].end()]
        figures.append(Figure(surface, numeral, numeral * magnitude, magnitude != 1))
        i = end
    return figures


def _word(pieces: Sequence[re.Match[str]], i: int) -> str:
    return (pieces[i].group("word") or "").lower() if i < len(pieces) else ""


def figures_backed(sources: Iterable[str]) -> set[Decimal]:
    """The numbers a sentence citing `sources` may state: every numeral and value in them."""
    backed: set[Decimal] = set()
    for text in sources:
        for figure in figures_in(text):
            backed.update((figure.numeral, figure.value))
    return backed


def figure_is_backed(figure: Figure, backed: set[Decimal]) -> bool:
    """Whether the sources state `figure`: its value must be one of their numerals or
    values, so "3.5 billion" is not "3.5 million", "3,500,000" is "3.5 million", and a
    bare "3.5" is any "3.5" ("3.5%", "3.5 million")."""
    return figure.value in backed


# -- names -----------------------------------------------------------------------------------

_NUMBER_WORDS = frozenset((*_UNITS, *_TENS, *_MAGNITUDES))
# After these a capitalised word may be capitalised for its position, not for being a name.
_OPENING = frozenset(":;\"\u201c\u2018'(\u2014\u2013-.!?\n")
# Sentence openers that are not names (most others are stop words).
_OPENERS = frozenset(
    """also still earlier later last next first finally instead meanwhile separately
    elsewhere overall however moreover furthermore additionally nevertheless nonetheless
    previously thus hence therefore yet many several every either neither""".split()
)


def names_in(sentence: str) -> dict[str, tuple[str, ...]]:
    """The names `sentence` uses: {"Vladimir Putin": ("vladimir", "putin"), ...}.

    A name is a run of capitalised words (acronyms such as "U.S." and "EU" included) not
    standing first in the sentence, or after a colon or an opening quote, where any word
    is capitalised. A word standing there counts too unless it is a stop word, an opener
    ("Meanwhile"), a number word, or followed by a comma, so "Putin said..." is a name and
    "Officials said..." must also be in the sources, as a cited subject should. Months and
    weekdays are dates (:func:`dates_in`), negators are negations.
    """
    tokens = _tokens(sentence)
    names: dict[str, tuple[str, ...]] = {}
    run: list[_Token] = []

    def close() -> None:
        if run:
            surface = sentence[run[0].start : run[-1].start + len(run[-1].text)]
            names.setdefault(surface, tuple(_key(t.text) for t in run))
            run.clear()

    for i, token in enumerate(tokens):
        if not token.is_word or not token.text[0].isupper() or _date_of(tokens, i, sentence):
            close()
            continue
        lower = token.lower
        opening = i == 0 or tokens[i - 1].text in _OPENING
        if opening and not run:
            following = tokens[i + 1].text if i + 1 < len(tokens) else ""
            if (
                not content_terms(lower)
                or lower in _OPENERS
                or lower in _NUMBER_WORDS
                or _negator(tokens, i) is not None
                or following == ","
            ):
                continue
        elif len(token.text) == 1 or lower in STOPWORDS:
            close()  # "I", "A", a capitalised "The" inside a title
            continue
        run.append(token)
    close()
    return names


# Where a word run together from two ("nPORTO" after a stray "\\n", "McDonald") splits.
_CASE_CHANGE = re.compile(r"(?<=[a-z])(?=[A-Z])")


def name_keys(texts: Iterable[str]) -> set[str]:
    """Every word of `texts` as names are compared (see :func:`names_in`), and the parts
    of words run together at a change of case."""
    keys: set[str] = set()
    for text in texts:
        for token in _tokens(text):
            if token.is_word:
                keys.add(_key(token.text))
                keys.update(_key(part) for part in _CASE_CHANGE.split(token.text))
    return keys


# -- negation --------------------------------------------------------------------------------

_NEGATORS = frozenset(
    """not no never neither nor none nobody nothing nowhere without cannot deny denies
    denied denying denial""".split()
)
# Verbs that negate what follows only with "to": "refused to sign", not "exports declined".
_NEGATIVE_BEFORE_TO = frozenset(
    """refuse refuses refused refusing fail fails failed failing decline declines declined
    declining""".split()
)
# "not only", "not least", "no doubt" do not deny anything.
_NOT_NEGATING = {"not": {"only", "just", "merely", "simply", "least"}, "no": {"doubt"}}
# A negation reaches at most this many content words, and never past a clause boundary.
_SCOPE_WORDS = 3
_CLAUSE_MARKS = frozenset('.,;:!?()[]{}"\u201c\u201d\u2014\u2013\u2026\n')
_CLAUSE_WORDS = frozenset("and but while whereas although though yet however because".split())
# Words a negation passes over without counting them as what it denies.
_UNDENIABLE = frozenset(
    """would should may might must shall will can could has have had is are was were be
    been being do does did longer more less even ever always also just really actually
    yet still""".split()
)
_NOT_ADVERBS = frozenset("supply family assembly apply reply rally ally comply rely".split())


def _negator(tokens: Sequence[_Token], i: int) -> str | None:
    """The negator token `i` is ("not", "didn't", "refused"...), or None."""
    lower = tokens[i].lower
    following = tokens[i + 1].lower if i + 1 < len(tokens) else ""
    if lower in _NEGATORS or lower.endswith("n't"):
        if following in _NOT_NEGATING.get(lower, ()):
            return None
        if lower == "no" and following == ".":  # "No. 10 Downing Street"
            return None
        return tokens[i].text
    if lower in _NEGATIVE_BEFORE_TO and following == "to":
        return tokens[i].text
    return None


def _scope_word(lower: str) -> bool:
    if lower in STOPWORDS or lower in _UNDENIABLE or lower in _NEGATORS:
        return False
    # "did not immediately respond" denies "respond".
    return not (lower.endswith("ly") and len(lower) > 5 and lower not in _NOT_ADVERBS)


@dataclass(frozen=True)
class Negation:
    """A negator and the content words (stems, in order) it denies; the first is its head."""

    negator: str
    scope: tuple[str, ...]
    words: tuple[str, ...]  # the same words as written, for notes

    @property
    def head(self) -> str | None:
        return self.scope[0] if self.scope else None


@dataclass(frozen=True)
class Polarity:
    """The negations of a text and the content words (stems) it states outside them."""

    negations: tuple[Negation, ...]
    affirmed: tuple[str, ...]


def polarity(text: str) -> Polarity:
    """What `text` denies and what it affirms, word by word.

    A negator denies the next few content words of its clause ("does not cover visa
    rules" denies cover, visa, rule); every other content word is affirmed.
    """
    tokens = _tokens(text)
    negations: list[Negation] = []
    affirmed: dict[str, None] = {}
    current: tuple[str, list[str], list[str]] | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            negator, scope, words = current
            negations.append(Negation(negator, tuple(scope), tuple(words)))
            current = None

    for i, token in enumerate(tokens):
        lower = token.lower
        if not token.is_word:
            if token.text in _CLAUSE_MARKS:
                close()
            continue
        if lower in _CLAUSE_WORDS:
            close()
            continue
        negator = _negator(tokens, i)
        if negator is not None:
            close()
            current = (negator, [], [])
            continue
        if lower in STOPWORDS:
            continue
        if current is not None:
            if _scope_word(lower):
                current[1].append(stem(lower))
                current[2].append(token.text)
                if len(current[1]) >= _SCOPE_WORDS:
                    close()
            continue
        affirmed.setdefault(stem(lower), None)
    close()
    return Polarity(tuple(negations), tuple(affirmed))


def negation_problem(sentence: str, sources: Sequence[str]) -> str | None:
    """How `sentence` changes the negations of `sources`, or None when it keeps them.

    It adds one when it denies something no cited text denies (no negation there shares
    a word with its own); it drops one when it affirms a word that the cited texts only
    ever deny, as the head of a negation ("did not agree" -> "agreed"). Comparing with
    all the cited text, not one best sentence, keeps a faithful sentence whose evidence
    also denies something unrelated in another clause.
    """
    written = polarity(sentence)
    cited = [polarity(text) for text in sources]
    source_negations = [n for p in cited for n in p.negations]
    for negation in written.negations:
        scope = set(negation.scope)
        if scope and any(scope & set(n.scope) for n in source_negations):
            continue
        if not scope and source_negations:
            continue
        denied = " ".join((negation.negator, *negation.words))
        return f"adds a negation its sources lack: {denied!r}"
    affirmed_in_sources = {word for p in cited for word in p.affirmed}
    heads = {n.head: n for n in source_negations if n.head is not None}
    for word in written.affirmed:
        if word in heads and word not in affirmed_in_sources:
            negation = heads[word]
            denied = " ".join((negation.negator, *negation.words))
            return f"drops a negation its sources have: {denied!r}"
    return None
