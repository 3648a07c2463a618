"""Small text utilities for answering: content terms, light stemming, word counts."""

from __future__ import annotations

import functools
import re

from index.storage.stopwords import STOPWORDS

__all__ = ["content_terms", "is_link_line", "stem", "stems", "word_count", "words"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# Question words and fillers that say what is asked, not what it is about.
_QUESTION_WORDS = frozenset(
    """what which who whom whose when where why how did does do is are was were has have
    had will would could should can may might said says say tell according recently latest
    current currently new news week month year today yesterday ago""".split()
)


# A line that points to another story rather than reporting this one, as news sites insert
# them into an article's text: a label glued to a headline ("Previously:Former Pope
# Benedict dies", "Opinion:King Charles must do better") or a label in capitals ("READ MORE:
# ...", "NFL NEWSLETTER: Sign up now"). It is no evidence for this article's story.
_GLUED_LABEL = re.compile(r"^[^\s:][^:\n]{0,60}?[\w)\]’'\"”]:[A-Z‘“'\"]")
_CAPITALS_LABEL = re.compile(r"^[A-Z][A-Z0-9 '’&,.\-]{2,40}:")


def is_link_line(sentence: str) -> bool:
    """Whether `sentence` is a link to another story inserted in an article's text."""
    text = sentence.strip()
    return bool(_GLUED_LABEL.match(text) or _CAPITALS_LABEL.match(text))


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def word_count(text: str) -> int:
    return len(text.split())


# A pure function of the word, called for every word of every sentence an answer weighs:
# the same few thousand words recur from one question to the next.
@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, predictable English stemmer: enough to match 'sanctions' with 'sanction'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + replacement
            break
    else:
        if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
            w = w[:-1]
    # A final silent e goes too, so that "propose", "proposes" and "proposed" meet.
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


# An answer weighs each retrieved sentence twice (as a quote, and for the candidates it
# holds), and a conversation's follow-ups weigh the same passages again. A few hundred
# sentences make an answer: 2,048 entries hold several, in a few MB.
@functools.lru_cache(maxsize=2048)
def stems(text: str) -> frozenset[str]:
    """The stems of every word of `text`: what two texts are compared by."""
    return frozenset(stem(word) for word in words(text))


def content_terms(text: str) -> list[str]:
    """The words of `text` that carry its topic, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in words(text):
        lowered = word.lower()
        if lowered in STOPWORDS or lowered in _QUESTION_WORDS:
            continue
        if len(lowered) < 2 and not lowered.isdigit():
            continue
        seen.setdefault(lowered, None)
    return list(seen)
