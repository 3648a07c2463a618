"""JSON documents and JSON Lines files: one article per record.

A JSON file holds one record, a list of records, or an object holding the list under a
key such as ``articles``; a JSON Lines file holds one record per line. A record names its
text under ``text``, ``body`` or ``content`` and its metadata under the keys that
:mod:`index.sources.metadata` knows. A bad record is reported and skipped; the file fails
only when no record has text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from index.errors import BadInputError
from index.models import FailedInput, ParsedArticle, ParseResult
from index.sources.cleanup import check_article_length, prepare_text
from index.sources.metadata import meta_from_mapping, normalised_keys
from index.sources.scraped_text import article_from_body

__all__ = ["parse_json_document", "parse_json_lines"]

# Keys as :func:`~index.sources.metadata.normalised_keys` writes them.
_TEXT_KEYS = ("text", "body", "content", "articlebody", "maintext")
# Python's parser gives up at about a thousand levels; no article needs a tenth of that.
_TOO_DEEP = "JSON nested too deeply to read (over a thousand levels)"
# A JSON object holding its records under one of these keys is read as a list.
_WRAPPER_KEYS = ("articles", "items", "records", "data", "results")


def parse_json_document(text: str, source: str, max_article_chars: int) -> ParseResult:
    """The articles of a JSON document: one record, a list, or a list under a wrapper key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInputError(
            source, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise BadInputError(source, _TOO_DEEP) from None
    if isinstance(data, dict):
        wrapped = _wrapped_records(data)
        if wrapped is None:
            article = _record_to_article(data, source)
            check_article_length(article, max_article_chars)
            return ParseResult(articles=(article,))
        data = wrapped
    if not isinstance(data, list):
        raise BadInputError(
            source, f"JSON must be an object or a list of objects, not {_json_type(data)}"
        )
    records = ((f"{source}#{index}", item) for index, item in enumerate(data))
    return _collect_records(records, source, max_article_chars)


def _wrapped_records(data: Mapping[str, object]) -> list[object] | None:
    keys = normalised_keys(data)
    if any(key in keys for key in _TEXT_KEYS):
        return None
    for key in _WRAPPER_KEYS:
        value = keys.get(key)
        if isinstance(value, list):
            return value
    return None


def parse_json_lines(text: str, source: str, max_article_chars: int) -> ParseResult:
    """The articles of a JSON Lines document, one record per line; blank lines are skipped."""

    # split("\n") rather than splitlines(): JSON strings may hold a raw U+2028, which
    # splitlines() would treat as a line break and so misnumber every later line.
    def records() -> Iterator[tuple[str, object]]:
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            record_source = f"{source}:{lineno}"
            try:
                yield record_source, json.loads(line)
            except json.JSONDecodeError as err:
                yield (
                    record_source,
                    _InvalidJson(f"not valid JSON: {err.msg} at column {err.colno}"),
                )
            except RecursionError:
                yield record_source, _InvalidJson(_TOO_DEEP)

    return _collect_records(records(), source, max_article_chars)


@dataclass(frozen=True)
class _InvalidJson:
    reason: str


def _collect_records(
    records: Iterable[tuple[str, object]], source: str, max_article_chars: int
) -> ParseResult:
    articles: list[ParsedArticle] = []
    failures: list[FailedInput] = []
    for record_source, record in records:
        try:
            if isinstance(record, _InvalidJson):
                raise BadInputError(record_source, record.reason)
            if not isinstance(record, dict):
                raise BadInputError(
                    record_source, f"record is {_json_type(record)}, not a JSON object"
                )
            article = _record_to_article(record, record_source)
            check_article_length(article, max_article_chars)
        except BadInputError as err:
            failures.append(FailedInput(source=err.source, reason=err.reason))
        else:
            articles.append(article)
    if not articles:
        reason = "no records with text"
        if failures:
            # The per-record failures are lost with the exception, so name the first.
            first = failures[0]
            where = first.source[len(source) :]
            where = f"line {where[1:]}" if where.startswith(":") else f"record {where}"
            reason += f" ({len(failures)} failed; {where}: {first.reason})"
        raise BadInputError(source, reason)
    return ParseResult(articles=tuple(articles), failures=tuple(failures))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _record_to_article(record: Mapping[str, object], source: str) -> ParsedArticle:
    keys = normalised_keys(record)
    text = _first_text(keys)
    if text is None:
        raise BadInputError(source, "record has no text (expected 'text', 'body' or 'content')")
    meta = meta_from_mapping(keys)
    return article_from_body(prepare_text(text), meta, source, find_title=False)


def _first_text(keys: Mapping[str, object]) -> str | None:
    for key in _TEXT_KEYS:
        value = keys.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n\n".join(str(item) for item in value)
        if isinstance(value, str) and value.strip():
            return value
    return None
