"""What kind of thing a question asks for: a country, a state, a person, a number, a date...

News questions mostly ask for one thing. The question word and the noun after "which" or
"what" say what kind ("which state" -> a state, "how many" -> a number, "who" -> a person
or an organisation), and a candidate answer of another kind is not an answer. The nouns
below are English question vocabulary, not facts about the world: the places themselves
come from :mod:`bot.answers.gazetteer`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["AnswerKind", "ExpectedAnswer", "expected_answer", "noun_kind"]

AnswerKind = Literal[
    "country",
    "state",
    "city",
    "capital",  # a country's capital city
    "place",
    "person",
    "organisation",
    "title",
    "number",
    "money",
    "date",
    "name",  # any proper name or quoted title
    "none",  # yes/no, true/false, or a question a single phrase cannot answer
]

# The noun after "which" / "what" -> the kind of answer.
_NOUN_KINDS: dict[str, AnswerKind] = {}
for _kind, _nouns in {
    "country": "country countries nation nations",
    "state": "state states province provinces",
    "city": "city cities town towns",
    "capital": "capital capitals",
    "place": "place places region island islands county location",
    "person": """person people man woman star actor actress singer rapper musician artist
        leader politician president senator governor minister lawmaker player athlete
        coach judge ceo founder author writer director comedian celebrity candidate
        official executive pope king queen prince princess driver chef rival billionaire
        superstar icon legend tycoon mogul activist journalist host anchor figure
        personality scientist astronaut economist entrepreneur investor owner heir monarch
        emperor dictator general commander envoy ambassador spokesperson spokesman
        spokeswoman quarterback pitcher golfer boxer footballer striker goalkeeper
        republican democrat conservative tory premier chancellor champion""",
    "organisation": """company companies firm brand airline carrier network team teams
        organization organisation group agency party bank retailer chain club union
        body league university school automaker manufacturer startup outlet newspaper
        publication magazine channel platform app website department committee giant
        maker carmaker producer supplier lender insurer exchange charity nonprofit
        broadcaster studio label publisher conglomerate operator store restaurant
        supermarket grocer streamer service cartel militia court council ministry
        commission association institute foundation administration parliament congress
        senate government police army navy military""",
    "title": """film films movie movies book books show shows series song songs album
        title play novel memoir documentary game word words""",
    "date": "year date day month decade",
    "number": "magnitude toll tally percentage rate score population",
    "money": "price cost fine salary wage fee jackpot",
}.items():
    for _noun in _nouns.split():
        _NOUN_KINDS[_noun] = _kind  # type: ignore[assignment]

_HOW_MUCH = re.compile(r"\bhow much\b", re.IGNORECASE)
_HOW_NUMBER = re.compile(
    r"\bhow (?:many|old|long|far|tall|high|big|large|fast)\b|\bwhat (?:number|age)\b|\bby how\b",
    re.IGNORECASE,
)
_PERCENTAGE = re.compile(
    r"\b(?:what|which) (?:percentage|percent|share|proportion)\b", re.IGNORECASE
)
_HOW_MANY_WORDS = re.compile(r"\bhow many\s+((?:[\w’'.-]+\s*){1,5})", re.IGNORECASE)
_VERB_FORM = re.compile(r"(?:ed|en|ing)$")
_WHEN = re.compile(r"\bwhen\b|\bwhat time\b", re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_WHO = re.compile(r"\bwho(?:m|se)?\b", re.IGNORECASE)
_WHICH_NOUN = re.compile(
    r"\b(?:which|what)\s+(?:of\s+(?:these|the\s+following)\s+)?"
    r"(?:(?:u\.?s\.?|us|american|european|british|former|new|major|popular|other)\s+)*"
    r"([^\W\d_]+(?:-[^\W\d_]+)*(?:['’]s)?(?:\s+[^\W\d_]+(?:-[^\W\d_]+)*(?:['’]s)?){0,2})",
    re.IGNORECASE,
)
_WHAT_IS_THE = re.compile(
    r"\b(?:what|which|who) (?:is|was|are|were|will be) the (?:\w+\s+)?([^\W\d_]+) of\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"\btrue or false\b|^\s*(?:is|are|was|were|did|does|do|has|have|will|can|could|should)\b",
    re.IGNORECASE,
)
_NAME_OF = re.compile(
    r"\b(?:what|which) (?:is|was|are|were) the (?:name|title)s? of\b|\b(?:named|called|"
    r"nicknamed|dubbed|known as) what\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ExpectedAnswer:
    """The kind of answer a question asks for, and the unit of a count ("how many
    seasons" -> "seasons"), which a number answer is shown with."""

    kind: AnswerKind
    unit: str | None = None

    @property
    def strict(self) -> bool:
        """Whether a candidate of another kind is ruled out (a place, a number, a date)
        rather than only weighed down (a name is a person or an organisation by context)."""
        return self.kind in ("country", "state", "city", "capital", "number", "money", "date")

    @property
    def specific(self) -> bool:
        """Whether the kind narrows the candidates down (a place, a person, an
        organisation, a number, a date) rather than admitting any name or title."""
        return self.kind not in ("name", "title", "none")


def expected_answer(question: str) -> ExpectedAnswer:
    """The kind of answer `question` asks for ("name" when the words do not say)."""
    text = " ".join(question.split())
    if _YES_NO.search(text):
        return ExpectedAnswer("none")
    if _HOW_MUCH.search(text):
        return ExpectedAnswer("money")
    if _PERCENTAGE.search(text):
        return ExpectedAnswer("number", "percent")
    if _HOW_NUMBER.search(text):
        return ExpectedAnswer("number", _unit_counted(text))
    which = list(_WHICH_NOUN.finditer(text))
    for match in which:
        kind = _head_noun_kind(match.group(1))
        if kind is not None:
            return ExpectedAnswer(kind)
    for match in _WHAT_IS_THE.finditer(text):
        kind = _NOUN_KINDS.get(match.group(1).lower())
        if kind is not None:
            # "The capital of the new province" is a city, not only a country's capital.
            return ExpectedAnswer("city" if kind == "capital" else kind)
    if _WHEN.search(text):
        return ExpectedAnswer("date")
    if _WHERE.search(text):
        return ExpectedAnswer("place")
    if _WHO.search(text):
        return ExpectedAnswer("person")
    if _NAME_OF.search(text) or any(_asks_for_a_thing(m) for m in which):
        return ExpectedAnswer("name")
    # "What did the mediators propose?", "Why...", "How did...": no single phrase answers.
    return ExpectedAnswer("none")


def _unit_counted(question: str) -> str | None:
    """What "how many" counts: "how many seasons" -> "seasons", "how many US states" ->
    "states", "how many Cadbury Creme Eggs stolen" -> "eggs"; None for "how many did"."""
    match = _HOW_MANY_WORDS.search(question)
    if match is None:
        return None
    named: str | None = None  # the last of the capitalised words before the noun
    for word in match.group(1).split():
        if word[0].isupper() or word[0].isdigit():
            named = word
            continue
        if word.lower() in _FUNCTION_WORDS or (named and _VERB_FORM.search(word)):
            break
        return word.lower()
    # "US" and "UK" qualify a noun; "Eggs" is one.
    return named.lower() if named and not named.isupper() and named.isalpha() else None


def noun_kind(noun: str) -> AnswerKind | None:
    """The kind of thing an English noun names ("company" -> an organisation), if known."""
    return _NOUN_KINDS.get(noun.lower())


def _head_noun_kind(words: str) -> AnswerKind | None:
    """The kind named by the noun phrase after "which": its head, the last known noun
    before a verb or a function word ("which tech company" -> company, "which state
    senator" -> senator), or a possessive noun ("which state's governor" -> state)."""
    kind: AnswerKind | None = None
    for raw in words.lower().split():
        word = raw.removesuffix("'s").removesuffix("’s")
        if word in _FUNCTION_WORDS:
            break
        kind = _NOUN_KINDS.get(word, kind)
        if word != raw:  # a possessive ends the phrase that names the answer
            break
    return kind


def _asks_for_a_thing(match: re.Match[str]) -> bool:
    """ "Which seed", "which of these", "what plan": the noun names what is asked for;
    "what did", "what is" ask for an explanation instead."""
    word = match.group(1).split()[0].lower()
    return match.group(0).lower().startswith("which") or word not in _VERBS


_VERBS = frozenset(
    """is are was were did does do has have had will would could should can may might
    happened happens caused causes made makes led leads""".split()
)
# Words that end the noun phrase after "which": the verb, an auxiliary, a preposition.
_FUNCTION_WORDS = _VERBS | frozenset(
    """the a an this that these those of in on at to for from with by as and or but not
    been being its their his her has""".split()
)
