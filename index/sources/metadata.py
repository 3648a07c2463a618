"""Article metadata as JSON records and front matter state it: the fields and their spellings.

Keys are compared after lower-casing and dropping "_" and "-" (:func:`normalised_keys`), so
"publish_date", "publishDate" and "publish-date" are one key; each field is read from the
first of its known keys that holds a usable value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from index.sources.cleanup import collapse_whitespace
from index.sources.dates import datetime_from_timestamp, naive_utc, parse_published

__all__ = ["ArticleMeta", "meta_from_mapping", "normalised_keys"]

_TITLE_KEYS = ("title", "headline")
_URL_KEYS = ("url", "link", "canonicalurl")
_OUTLET_KEYS = ("outlet", "source", "publisher", "site", "sitename")
_PUBLISHED_KEYS = (
    "published",
    "publishdate",
    "date",
    "publishedat",
    "datepublished",
    "pubdate",
    "publicationdate",
)
_COUNTRY_KEYS = ("country",)
_LANGUAGE_KEYS = ("language", "lang")
_AUTHOR_KEYS = ("author", "authors", "byline")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ArticleMeta:
    """The metadata a source states for an article; None where it says nothing."""

    title: str | None = None
    url: str | None = None
    outlet: str | None = None
    published: datetime | None = None
    country: str | None = None
    language: str | None = None
    author: str | None = None


def meta_from_mapping(keys: Mapping[str, object]) -> ArticleMeta:
    """Read the known metadata fields from a mapping whose keys are already normalised."""
    return ArticleMeta(
        title=_first_of(keys, _TITLE_KEYS, _as_text),
        url=_first_of(keys, _URL_KEYS, _as_text),
        outlet=_first_of(keys, _OUTLET_KEYS, _as_name),
        published=_first_of(keys, _PUBLISHED_KEYS, _as_datetime),
        country=_first_of(keys, _COUNTRY_KEYS, _as_country),
        language=_first_of(keys, _LANGUAGE_KEYS, _as_text),
        author=_first_of(keys, _AUTHOR_KEYS, _as_names),
    )


def normalised_keys(data: Mapping[str, object]) -> dict[str, object]:
    """`data` with its keys lower-cased, without "_" and "-"; the first of equal keys wins."""
    result: dict[str, object] = {}
    for key, value in data.items():
        normal = str(key).lower().replace("_", "").replace("-", "")
        result.setdefault(normal, value)
    return result


def _first_of(
    keys: Mapping[str, object], names: Sequence[str], convert: Callable[[object], _T | None]
) -> _T | None:
    for name in names:
        if name in keys:
            value = convert(keys[name])
            if value is not None:
                return value
    return None


def _as_text(value: object) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = collapse_whitespace(str(value))
        return text or None
    return None


def _as_name(value: object) -> str | None:
    """A string, or the ``name`` of an object such as NewsAPI's ``{"id": .., "name": ..}``."""
    if isinstance(value, Mapping):
        return _as_text(value.get("name")) or _as_text(value.get("title"))
    return _as_text(value)


def _as_names(value: object) -> str | None:
    if isinstance(value, list):
        names: list[str] = []
        for item in value:
            name = _as_name(item)
            if name and name not in names:
                names.append(name)
        return ", ".join(names) or None
    return _as_name(value)


def _as_country(value: object) -> str | None:
    text = _as_text(value)
    if text and len(text) == 2 and text.isalpha():
        return text.upper()
    return text


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime_from_timestamp(float(value))
    if isinstance(value, str):
        return parse_published(value)
    return None
