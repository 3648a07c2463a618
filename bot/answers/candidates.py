"""Candidate short answers, mined from the best sentences and voted on across sources.

In the manner of the redundancy-based question answering of TREC (AskMSR, Brill et al.
2002): the answer to a news question tends to be repeated across the passages and outlets
that report the story, while words that merely happen to sit near the question's words
are not. So every sentence of the retrieved passages that matches the question votes for
the names, numbers, dates and quoted titles it holds; a vote weighs how well the sentence
matches, how high its passage ranks and whether its source falls in the question's dates;
one outlet counts once however often it repeats itself; and a candidate of the wrong kind
("which state" answered by a person) is out. Words of the question itself are never a
candidate: they are what every matching sentence shares.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.answers.answer_types import AnswerKind, ExpectedAnswer, noun_kind
from bot.answers.citations import Quote
from bot.answers.extractive import TermWeights
from bot.answers.gazetteer import is_adjective_of, is_place, is_place_adjective
from bot.answers.retrieval import RankedPassage
from bot.answers.text import stem, stems, word_count, words
from index import Article
from index.storage.stopwords import STOPWORDS

__all__ = ["Candidate", "Mention", "find_candidates", "outlet_key"]

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_CALENDAR_WORDS = frozenset(w.lower() for w in f"{_MONTHS}|{_WEEKDAYS}".split("|"))
# A capitalised word ending so starts a sentence ("Starting", "Reportedly"), not a name.
_VERB_ENDINGS = ("ing", "ed", "ly")
# Capitalised words that start sentences rather than names.
_NOT_NAMES = (
    STOPWORDS
    | _CALENDAR_WORDS
    | frozenset(
        """when where while after before though although however meanwhile thousands
        hundreds millions dozens former""".split()
    )
)

# A capitalised word (with inner apostrophes, hyphens, ampersands, dots: "O'Neill",
# "Jean-Luc", "AT&T", "U.S.")
# or a number inside a name ("Apollo 11").
_CAP_WORD = (
    r"(?:[A-Z][A-Z0-9]*(?:[.\-]\d+)+\b|[A-Z][\w’']*(?:[-&][A-Z][\w’']*)*(?:\.[A-Z][\w’']*)*\.?"
    r"|[A-Z]{2,}\d*)"
)
_NAME_SPAN = re.compile(
    rf"{_CAP_WORD}(?:\s+(?:(?:of|the|de|del|da|di|von|van|der|la|le|al|bin|y|&)\s+)*"
    rf"(?:{_CAP_WORD}|\d+\b))*"
)
_QUOTED = re.compile(r"[“\"‘]([A-Z0-9][^“”\"‘’]{0,60}?)[”\"’](?!\w)")
# A phrase between straight single quotes, as headlines quote titles ("'Banshees of
# Inisherin' wins"): the opening mark follows no letter, so "Carmichael's" is no quote.
_SINGLE_QUOTED = re.compile(r"(?<![\w’'])'([A-Z0-9][^'\n]{0,60}?)'(?![\w’'])")
_SPELLED = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    "eighty|ninety|hundred|thousand|dozen"
)
_SCALE = r"(?:\s?(?:%|percent|per cent|million|billion|trillion|bn|m|k)\b)?"
_NUMBER = re.compile(
    rf"(?<![\w.\-])(?:[$£€¥]\s?)?\d+(?:,\d{{3}})*(?:\.\d+)?{_SCALE}(?:%)?"
    rf"|\b(?:{_SPELLED})\b{_SCALE}",
    re.IGNORECASE,
)
_DOTTED_ACRONYM = re.compile(r"\b(?:[A-Z]\.){1,3}[A-Z]\b\.?")
_PERCENT = re.compile(r"%|\bper ?cent\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:1[89]|20)\d{2}")
_PRONOUN_ONE = re.compile(r"\s+of\b", re.IGNORECASE)
_MONEY_UNIT = re.compile(r"^\s*(?:dollars|pounds|euros|yen|yuan|rupees)\b", re.IGNORECASE)
_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+(?:{_MONTHS})"
    rf"(?:\s+\d{{4}})?|(?:{_MONTHS})\s+\d{{4}}|(?:1[89]|20)\d{{2}})\b"
)
# What may precede the first word of a sentence: quote marks, brackets, dashes.
_OPENERS = " \t\n“\"‘'([—–-"
_LOWER_CASE_WORD = re.compile(r"(?<![\w’'])[a-z][a-z0-9’'-]*(?![\w’'])")
# "I’m", "We're", "They'll", "Don't": a pronoun or a verb, never a name.
_CONTRACTION = re.compile(r"[’'](?:m|re|ve|ll|d|t)$", re.IGNORECASE)
# Titles and honorifics that start a capitalised run before the name itself
# ("Florida Gov. Ron DeSantis", "President Joe Biden"): the run is split there.
_TITLE_WORDS = frozenset(
    """gov gov. governor sen sen. senator rep rep. representative president pres. vice
    minister secretary chancellor mayor judge justice chief ceo dr dr. mr mr. mrs mrs. ms
    ms. prof prof. gen gen. general sir lord lady speaker leader spokesperson
    spokesman spokeswoman coach""".split()
)
# Words for people that describe teams, companies, countries and outlets as well
# ("defending champion Manchester City", "host Qatar", "Facebook owner Meta", "conservative
# Fox News").
_ROLES_OF_EITHER = frozenset("champion rival host icon legend figure owner conservative".split())
# A sentence votes when it covers at least this share of what the best sentence covers;
# its vote is _BASE_MATCH for being in a retrieved passage, plus the rest by that share,
# falling with the passage's rank and weighed by whether its source is in the question's
# dates (True), undated or with no dates asked (None), or outside them (False).
_MIN_COVERAGE = 0.25
_BASE_MATCH = 0.3
_RANK_DECAY = 0.1
_DATE_WEIGHTS = {True: 1.0, None: 0.7, False: 0.3}
# The vote of a number written without the unit the question counts ("how many troops").
_BARE_COUNT = 0.5
# How much an outlet's other articles add to its best one.
_OTHER_ARTICLES = 0.3
_MAX_SENTENCE_WORDS = 80
# Kinds answered by a name (of a person, an organisation, a work, anything).
_NAMED_KINDS = frozenset({"person", "organisation", "name", "title"})


@dataclass(frozen=True)
class Mention:
    """One sentence that holds a candidate, with the weight of its vote."""

    quote: Quote
    surface: str  # the candidate as this sentence writes it
    weight: float
    outlet: str
    in_window: bool | None


@dataclass(frozen=True)
class Candidate:
    """A possible short answer and every sentence that backs it, strongest first."""

    text: str
    score: float
    fits: bool  # of the asked kind (always True for a strict kind: others are dropped)
    mentions: tuple[Mention, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.outlet for m in self.mentions))

    @property
    def best_weight(self) -> float:
        return max((m.weight for m in self.mentions), default=0.0)


def outlet_key(article: Article) -> str:
    """Who published `article`: its outlet, else its web domain, else the article itself
    (so that two unknown sources never count as one, nor one as two)."""
    if article.outlet:
        return article.outlet
    if article.url:
        host = (urlsplit(article.url).hostname or "").removeprefix("www.")
        if host:
            return host
    return f"article {article.id}"


@functools.lru_cache(maxsize=8192)
def _key(surface: str) -> str:
    text = surface.strip('“”"‘’ ').lower().replace("’", "'")
    text = re.sub(r"'s$", "", text)
    text = re.sub(r"^the\s+", "", text)
    return " ".join(text.split())


def _shouted(token: str) -> bool:
    """A word in capitals that is no acronym ("AIRLINES" in a headline set in capitals)."""
    letters = [c for c in token if c.isalpha()]
    return len(letters) > 4 and all(c.isupper() for c in letters)


def _split_titles(span: str) -> list[tuple[str, str | None]]:
    """The parts of a capitalised run, each with the title just before it, if any: split
    at titles ("Gov. Ron DeSantis" -> "Ron DeSantis" after "gov"), at dates and words in
    capitals, and after a possessive ("Elon Musk's Twitter" -> "Elon Musk", "Twitter")."""
    parts: list[tuple[list[str], str | None]] = [([], None)]
    for token in span.split():
        bare = token.lower().rstrip(".,")
        if bare in _TITLE_WORDS:
            parts.append(([], bare))
        elif bare in _CALENDAR_WORDS or _shouted(token):
            parts.append(([], None))
        elif token.endswith(("'s", "’s", "s'", "s’")):
            # "Elon Musk's Twitter", "the Phoenix Suns' owner": a possessive ends a name.
            parts[-1][0].append(token[:-2] if token.endswith(("'s", "’s")) else token[:-1])
            parts.append(([], None))
        else:
            parts[-1][0].append(token)
    return [(" ".join(tokens), title) for tokens, title in parts if tokens]


def _name_spans(sentence: str, lower_case: frozenset[str] = frozenset()) -> Iterable[str]:
    """Capitalised runs, split at titles and possessives. `lower_case`: words the
    passages also write in lower case ("producers", "well", "former"), which, first in a
    sentence, are capitalised by grammar and are no part of a name."""
    for match in _NAME_SPAN.finditer(sentence):
        opens_sentence = not sentence[: match.start()].strip(_OPENERS)
        for index, (part, _) in enumerate(_split_titles(match.group(0).rstrip("."))):
            # A closing quote mark glued to the last word ("'Banshees of Inisherin'").
            tokens = [token.rstrip("’'") for token in part.split()]
            # A capital at the start of a sentence (or after a quote mark) is grammar, not
            # a name: "When", "The", "On Monday", "I’m", and a word written in lower case
            # elsewhere ("Former Starbucks CEO").
            while tokens and (
                tokens[0].islower()
                or tokens[0].lower() in _NOT_NAMES
                or tokens[0].lower().endswith(_VERB_ENDINGS)
                or _CONTRACTION.search(tokens[0])
                or (opens_sentence and index == 0 and tokens[0].lower() in lower_case)
            ):
                tokens = tokens[1:]
                opens_sentence = False
            # Trailing connectors ("Bank of") are not part of the name.
            while tokens and tokens[-1].islower():
                tokens = tokens[:-1]
            if tokens:
                yield " ".join(tokens)


def _spans(
    sentence: str, expected: ExpectedAnswer, lower_case: frozenset[str] = frozenset()
) -> Iterable[str]:
    kind = expected.kind
    if kind in ("number", "money"):
        for match in _NUMBER.finditer(sentence):
            surface = match.group(0).strip()
            after = sentence[match.end() :]
            if expected.unit == "percent":
                if _PERCENT.search(surface):
                    yield surface  # "what percentage": 18%, never "one" or "2011"
                continue
            if kind == "number" and (
                _YEAR.fullmatch(surface) or (surface.lower() == "one" and _PRONOUN_ONE.match(after))
            ):
                continue  # "in 2013", "the 2021 season": a date, not a count; "one of": a pronoun
            counted_in = bool(expected.unit) and _unit_follows(after, expected.unit or "")
            if counted_in or (kind == "money" and _MONEY_UNIT.match(after)):
                surface = f"{surface} {words(after)[0]}"
            yield surface
        return
    if kind == "date":
        for match in _DATE.finditer(sentence):
            yield match.group(0)
        return
    quoted = list(_QUOTED.finditer(sentence))
    for match in quoted:
        inner = match.group(1).strip()
        if 1 <= len(inner.split()) <= 8 and not (kind == "person" and _is_title(inner)):
            yield match.group(0) if kind in ("title", "name") else inner
    # A title in quotation marks ("'Banshees of Inisherin' wins best comedy") names a
    # work, not a person, even where one of its words could be a name.
    titles = (
        [
            f" {_word_key(match.group(1))} "
            for match in (*quoted, *_SINGLE_QUOTED.finditer(sentence))
            if _is_title(match.group(1))
        ]
        if kind == "person"
        else []
    )
    for span in _name_spans(sentence, lower_case):
        if expected.kind in _NAMED_KINDS and is_place_adjective(span):
            continue  # "Russian", "Chinese", "Republicans": no one's name
        if titles:
            key = f" {_word_key(span)} "
            if any(key in title for title in titles):
                continue
        yield span
        if kind in ("country", "state", "city", "capital", "place"):
            # "South Carolina Gov" or "Paris-based": the place may be part of a longer run.
            tokens = span.split()
            for size in range(min(len(tokens), 4) - 1, 0, -1):
                for start in range(len(tokens) - size + 1):
                    yield " ".join(tokens[start : start + size])


def _introduced(sentence: str) -> Iterator[tuple[str, AnswerKind]]:
    """The names a sentence introduces by what they are, with that kind: a person's title or
    role ("TikTok CEO Shou Zi Chew", "Twitter chief executive Elon Musk", "President Joe
    Biden") or a kind of organisation ("streaming service Hulu", "the team Baltimore Ravens")."""
    for match in _NAME_SPAN.finditer(sentence):
        run = match.group(0).rstrip(".")
        before = sentence[: match.start()].split()[-1:]
        opening_kind = _role_kind(before[0]) if before and before[0].islower() else None
        for part, title in _split_titles(run):
            kind: AnswerKind | None
            if title is None:
                # The word before the run introduces its first part only.
                kind = opening_kind if run.startswith(part) else None
            else:
                # "General Motors": a title word that begins a company's name.
                kind = "person" if title != "general" else None
            # "The former CEO of Sears": a title's "of" names where the person works.
            if kind is None or part[0].islower():
                continue
            name = _key(part)
            yield name, kind
            if kind == "person":
                # Later sentences call a person by the surname alone ("Chew said").
                yield name.split()[-1], kind


def _introduced_in(sentences: Iterable[str]) -> dict[str, AnswerKind]:
    """What the sentences introduce each name as; a name introduced both as a person and as
    an organisation (two Johnsons, a person and a team) is left out."""
    introduced: dict[str, AnswerKind] = {}
    conflicting: set[str] = set()
    for sentence in sentences:
        for key, kind in _introduced(sentence):
            if introduced.setdefault(key, kind) != kind:
                conflicting.add(key)
    return {key: kind for key, kind in introduced.items() if key not in conflicting}


def _role_kind(word: str) -> AnswerKind | None:
    """The kind of name a word before it introduces: "CEO" a person, "automaker" an
    organisation, "champion" neither (a team or a player)."""
    bare = word.lower().rstrip(".,")
    if bare in _TITLE_WORDS:
        return "person"
    if bare in _ROLES_OF_EITHER:
        return None
    kind = noun_kind(bare)
    return kind if kind in ("person", "organisation") else None


def _word_key(phrase: str) -> str:
    """A phrase's words, lower-cased, without its punctuation ("The Fabelmans," ->
    "the fabelmans"): how a name is looked for inside a quoted title."""
    return " ".join(words(phrase)).lower()


def _is_title(phrase: str) -> bool:
    """Whether a quoted phrase is written as a title: every word capitalised but short
    connectors ("Everything Everywhere All at Once"), unlike quoted speech."""
    tokens = phrase.split()
    return bool(tokens) and all(
        not token[0].isalpha() or token[0].isupper() or len(token) <= 3 for token in tokens
    )


def _counts_other(surface: str, expected: ExpectedAnswer) -> bool:
    """Whether a number mined for "how many <unit>" is written without that unit."""
    if expected.kind != "number" or expected.unit in (None, "percent"):
        return False
    last = words(surface)[-1:]
    return not last or stem(last[0]) != stem(expected.unit or "")


def _unit_follows(after: str, unit: str) -> bool:
    following = words(after[:30])
    return bool(following) and stem(following[0]) == stem(unit)


def _fits(surface: str, expected: ExpectedAnswer, introduced: dict[str, AnswerKind]) -> bool:
    """Whether `surface` is of the asked kind; `introduced`: the kind of each name the
    passages introduce as a person or an organisation."""
    kind = expected.kind
    if kind in ("country", "state", "city", "capital", "place"):
        return is_place(_key(surface), kind)
    if kind == "money":
        return bool(re.search(r"[$£€¥]|dollars|pounds|euros|yen|yuan|rupees", surface, re.I))
    if kind == "date":
        return _is_date(surface)
    if kind == "number":
        return True  # mined by its own pattern
    if kind == "person":
        name = _key(surface)
        return (
            not surface.startswith(("“", '"', "‘"))
            and not surface.isupper()
            # "Golden Globes 2023", "Apollo 11": no one's name holds a number.
            and not any(character.isdigit() for character in surface)
            and not is_place(name, "place")
            # "Food Standards Agency", "Supreme Court": a name ending in such a noun is
            # an organisation's.
            and noun_kind(name.split()[-1]) != "organisation"
            and introduced.get(name) != "organisation"
        )
    if kind == "organisation":
        key = _key(surface)
        # "Which company ...": its "CEO Howard Schultz" is no company.
        return not is_place(key, "place") and introduced.get(key) != "person"
    return True


@functools.lru_cache(maxsize=4096)
def _is_date(surface: str) -> bool:
    """Whether dateparser reads `surface` as a date ("March 3", "2017", "April 18, 2023")."""
    import dateparser  # ~0.1 s to import: paid by the first date candidate, not by every start

    return dateparser.parse(surface, languages=["en"]) is not None


def _collapse_acronyms(text: str) -> str:
    """ "U.K." as "UK", "U.S" as "US": one word however an outlet dots it."""
    return _DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)


def _is_question_echo(surface: str, question_stems: frozenset[str]) -> bool:
    """Whether every word of the candidate is a word of the question (or a stop word)."""
    content = [w for w in words(_collapse_acronyms(surface)) if w.lower() not in STOPWORDS]
    if not content:
        return True
    return all(stem(w) in question_stems for w in content)


def _is_noise(surface: str, expected: ExpectedAnswer, article: Article) -> bool:
    key = _key(surface)
    if not key or len(key) < 2:
        return True
    if expected.kind != "date" and key in _CALENDAR_WORDS:
        return True
    # An outlet naming itself ("CNN reported") is attribution, not an answer.
    return bool(article.outlet) and key == _key(article.outlet or "")


def find_candidates(
    question: str,
    expected: ExpectedAnswer,
    passages: Sequence[RankedPassage],
    weights: TermWeights,
    *,
    limit: int = 5,
) -> list[Candidate]:
    """The best `limit` candidate answers of the expected kind, strongest first."""
    if expected.kind == "none":
        return []
    question_stems = stems(_collapse_acronyms(question))
    # Nationality words of the question ("Russian"): the places they name are echoes too.
    question_adjectives = [w for w in dict.fromkeys(words(question)) if is_place_adjective(w)]
    sentences = list(_sentences(passages, weights))
    # A sentence's match is judged against the best sentence found: a long question is
    # never covered in full, and what counts is which sentences come closest.
    best_coverage = max((coverage for *_, coverage in sentences), default=0.0)
    # Only names are mined from capitalised runs: numbers and dates need no such words.
    lower_case = (
        frozenset()
        if expected.kind in ("number", "money", "date")
        else frozenset(
            word
            for ranked in passages
            for word in _LOWER_CASE_WORD.findall(ranked.hit.passage.text)
        )
    )
    introduced = (
        _introduced_in(quote.text for *_, quote, _ in sentences)
        if expected.kind in ("organisation", "person")
        else {}
    )
    votes: dict[str, list[Mention]] = {}
    fits_kind: dict[str, bool] = {}
    for rank, ranked, quote, coverage in sentences:
        if best_coverage <= 0 or coverage < _MIN_COVERAGE * best_coverage:
            continue
        article = quote.article
        weight = (
            _DATE_WEIGHTS[ranked.in_window]
            * (_BASE_MATCH + (1 - _BASE_MATCH) * coverage / best_coverage)
            / (1 + _RANK_DECAY * rank)
        )
        counted: set[str] = set()
        for surface in _spans(quote.text, expected, lower_case):
            key = _key(surface)
            if key in counted or _is_question_echo(surface, question_stems):
                continue
            if any(is_adjective_of(word, key) for word in question_adjectives):
                continue  # "which country near Russian forces": Russia is in the question
            if _is_noise(surface, expected, article):
                continue
            fits = fits_kind.setdefault(key, _fits(surface, expected, introduced))
            if expected.strict and not fits:
                continue
            counted.add(key)
            # "How many troops" is answered by "900 troops" more surely than by a bare
            # number of the same sentence, which may count something else.
            unit_weight = _BARE_COUNT if _counts_other(surface, expected) else 1.0
            votes.setdefault(key, []).append(
                Mention(quote, surface, weight * unit_weight, outlet_key(article), ranked.in_window)
            )
    candidates = [_candidate(mentions, fits_kind[key]) for key, mentions in votes.items()]
    candidates = _tile(candidates)
    candidates.sort(key=lambda c: -c.score)
    return candidates[:limit]


def _sentences(
    passages: Sequence[RankedPassage], weights: TermWeights
) -> Iterable[tuple[int, RankedPassage, Quote, float]]:
    """Each sentence of the passages once (overlapping passages share some), with the
    rank of its passage and how much of the question it covers."""
    seen: set[tuple[int, int]] = set()
    for rank, ranked in enumerate(passages):
        article, passage = ranked.hit.article, ranked.hit.passage
        for span in passage.sentences:
            if (article.id, span.start) in seen:
                continue
            seen.add((article.id, span.start))
            text = article.text[span.start : span.end]
            if 4 <= word_count(text) <= _MAX_SENTENCE_WORDS:
                quote = Quote(article, passage, span.start, span.end)
                yield rank, ranked, quote, weights.coverage(stems(text))


def _candidate(mentions: Sequence[Mention], fits: bool, text: str | None = None) -> Candidate:
    """A candidate's vote: each article's best mention; each outlet's best article in
    full and its other articles at _OTHER_ARTICLES (one newsroom repeating a story is
    weaker evidence than another newsroom confirming it)."""
    ordered = sorted(mentions, key=lambda m: -m.weight)
    best_per_article: dict[int, Mention] = {}
    for mention in ordered:
        best_per_article.setdefault(mention.quote.article.id, mention)
    outlet_votes: dict[str, list[float]] = {}
    for mention in best_per_article.values():
        outlet_votes.setdefault(mention.outlet, []).append(mention.weight)
    score = sum(w[0] + _OTHER_ARTICLES * sum(w[1:]) for w in outlet_votes.values())
    surfaces: dict[str, float] = {}
    for mention in ordered:
        surfaces[mention.surface] = surfaces.get(mention.surface, 0.0) + mention.weight
    if text is None:
        text = max(surfaces, key=lambda s: surfaces[s])
    return Candidate(text, score * (1.0 if fits else 0.5), fits, tuple(ordered))


def _tile(candidates: list[Candidate]) -> list[Candidate]:
    """Merge a candidate into a longer one that contains it ("Benedict" into "Pope
    Benedict XVI") when the longer one has support of its own: the longer answer then
    carries the votes of both, as AskMSR's answer tiling does."""
    by_length = sorted(candidates, key=lambda c: -len(_key(c.text).split()))
    merged: list[Candidate] = []
    for candidate in by_length:
        key = f" {_key(candidate.text)} "
        host_index = next(
            (
                i
                for i, longer in enumerate(merged)
                if key in f" {_key(longer.text)} "
                and longer.fits >= candidate.fits
                and longer.score >= 0.3 * candidate.score
            ),
            None,
        )
        if host_index is None:
            merged.append(candidate)
            continue
        host = merged[host_index]
        known = {(m.quote.article.id, m.quote.start) for m in host.mentions}
        extra = [m for m in candidate.mentions if (m.quote.article.id, m.quote.start) not in known]
        # The shorter form's sentences add their votes, but keep their own wording: only
        # a sentence that holds the longer form itself can be cited for it.
        merged[host_index] = _candidate([*host.mentions, *extra], host.fits, host.text)
    return merged
