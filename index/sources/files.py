"""Article parsers: turn input files (scraped text, Markdown, JSON, JSON Lines, HTML) into articles.

Every format ends in the same cleaning pipeline, because the stored text is what answers
later quote verbatim: the header of a scraped page (navigation links, the title, bylines,
"Posted ..." lines) and its footer (copyright, "Follow us", related links) are peeled off
line by line, whole-line boilerplate such as "Advertisement" is dropped anywhere, and the
remaining text is normalised to paragraphs separated by exactly one blank line, with every
run of whitespace inside a paragraph collapsed to one space.

A file that cannot be used at all raises :class:`~index.errors.BadInputError`; a bad record
inside a JSON or JSON Lines file that otherwise parsed becomes a
:class:`~index.models.FailedInput` in :attr:`ParseResult.failures`.
"""

from __future__ import annotations

import email.utils
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from index.errors import BadInputError
from index.models import FailedInput, ParsedArticle

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ParseResult",
    "iter_input_paths",
    "parse_file",
    "parse_published",
    "parse_text",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".text", ".md", ".markdown", ".json", ".jsonl", ".ndjson", ".html", ".htm"}
)
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})

# Binary files almost always show a NUL byte early; text never does.
_BINARY_SNIFF_BYTES = 8192
# Lines longer than this were not hard-wrapped by a person or a mail client, so a single
# newline between such lines separates paragraphs rather than wrapping one.
_HARD_WRAP_WIDTH = 120
_MAX_TITLE_LINE = 200
_DERIVED_TITLE_CHARS = 100
# Only lines this short can be date lines or bylines; it also keeps the checks cheap.
_MAX_HEADER_LINE = 120
_MAX_EDGE_BOILERPLATE = 300

_T = TypeVar("_T")


@dataclass(frozen=True)
class ParseResult:
    """What one file yielded: its articles, and the records inside it that were skipped."""

    articles: tuple[ParsedArticle, ...]
    failures: tuple[FailedInput, ...] = ()


# --------------------------------------------------------------------------------------
# Finding input files
# --------------------------------------------------------------------------------------


def iter_input_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield files as given and the supported files inside folders, recursively.

    Folders are walked in sorted order, skipping hidden files and folders and files whose
    suffix is not in :data:`SUPPORTED_SUFFIXES`. A file named explicitly is yielded whatever
    its suffix, so that :func:`parse_file` can say why it is unsupported. Every path is
    checked before anything is yielded, so a typo fails before any work is done.
    """
    given = list(paths)
    for path in given:
        if not path.exists():
            raise BadInputError(str(path), "no such file or folder")
    seen_folders: set[Path] = set()
    for path in given:
        if path.is_dir():
            yield from _walk_folder(path, seen_folders)
        else:
            yield path


def _walk_folder(folder: Path, seen: set[Path]) -> Iterator[Path]:
    # A symlink pointing back up the tree would otherwise recurse forever.
    real = folder.resolve()
    if real in seen:
        return
    seen.add(real)
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk_folder(entry, seen)
        elif entry.is_file() and entry.suffix.lower() in SUPPORTED_SUFFIXES:
            yield entry


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------


def parse_file(
    path: Path, *, max_file_bytes: int = 50_000_000, max_article_chars: int = 2_000_000
) -> ParseResult:
    """Parse one input file into articles.

    Raises :class:`BadInputError` (``source=str(path)``) when the whole file is unusable:
    missing, unsupported, empty, binary, not UTF-8, too large, malformed JSON, or without
    any article text. HTML pages go to :func:`index.sources.html.extract_html` as bytes, so that
    the charset the page declares is honoured.
    """
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES:
        # Imported here: index.sources.html imports this module, and trafilatura is slow to load.
        from index.sources.html import extract_html

        data = _read_bytes(path, max_file_bytes)
        _check_not_empty_or_binary(data, source)
        html_article = extract_html(data, source=source, max_article_chars=max_article_chars)
        return ParseResult(articles=(html_article,))
    text = _read_text(path, max_file_bytes)
    if suffix in _JSON_LINES_SUFFIXES:
        return _parse_json_lines(text, source, max_article_chars)
    if suffix == ".json":
        return _parse_json_document(text, source, max_article_chars)
    article = _parse_document(text, source=source, markdown=suffix in _MARKDOWN_SUFFIXES)
    _check_length(article, max_article_chars)
    return ParseResult(articles=(article,))


def _read_text(path: Path, max_file_bytes: int) -> str:
    text = _decode(_read_bytes(path, max_file_bytes), str(path))
    if not text.strip():
        raise BadInputError(str(path), "empty file")
    return text


def _read_bytes(path: Path, max_file_bytes: int) -> bytes:
    source = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise BadInputError(source, "no such file or folder") from None
    except OSError as err:
        raise BadInputError(source, f"cannot read file: {err.strerror or err}") from None
    if path.is_dir():
        raise BadInputError(source, "is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "(no suffix)"
        raise BadInputError(source, f"unsupported file type {shown}")
    # Checked before reading, so a huge file is never loaded into memory.
    if stat.st_size > max_file_bytes:
        raise BadInputError(
            source,
            f"file is {_format_size(stat.st_size)}, over the {_format_size(max_file_bytes)} "
            "limit (ingest.max_file_bytes)",
        )
    try:
        return path.read_bytes()
    except OSError as err:
        raise BadInputError(source, f"cannot read file: {err.strerror or err}") from None


def _format_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size} bytes"


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _check_not_empty_or_binary(data: bytes, source: str) -> None:
    """The checks of :func:`_decode` for bytes that are decoded elsewhere (HTML)."""
    if not data.strip():
        raise BadInputError(source, "empty file")
    if not data.startswith((*_UTF32_BOMS, *_UTF16_BOMS)) and b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise BadInputError(source, "binary file (contains NUL bytes), not text")


def _decode(data: bytes, source: str) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16/32; refuse anything else.

    Guessing a legacy encoding such as cp1252 would silently store mojibake that answers
    then quote, so an undecodable file is reported instead.
    """
    if not data:
        raise BadInputError(source, "empty file")
    for boms, codec in ((_UTF32_BOMS, "utf-32"), (_UTF16_BOMS, "utf-16")):
        if data.startswith(boms):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise BadInputError(source, f"not valid {codec.upper()} text") from None
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise BadInputError(source, "binary file (contains NUL bytes), not text")
    offset = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as err:
        position = offset + err.start
        raise BadInputError(
            source, f"not valid UTF-8 text (byte 0x{data[position]:02x} at offset {position})"
        ) from None


def _check_length(article: ParsedArticle, max_article_chars: int) -> None:
    length = len(article.text)
    if length > max_article_chars:
        raise BadInputError(
            article.source,
            f"article is {length:,} characters, over the limit of {max_article_chars:,} "
            "(ingest.max_article_chars)",
        )


# --------------------------------------------------------------------------------------
# JSON and JSON Lines
# --------------------------------------------------------------------------------------

# Keys are compared after lower-casing and dropping "_" and "-", so "publish_date",
# "publishDate" and "publish-date" are one key.
_TEXT_KEYS = ("text", "body", "content", "articlebody", "maintext")
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
# A JSON object holding its records under one of these keys is read as a list.
_WRAPPER_KEYS = ("articles", "items", "records", "data", "results")


def _parse_json_document(text: str, source: str, max_article_chars: int) -> ParseResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInputError(
            source, f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    if isinstance(data, dict):
        wrapped = _wrapped_records(data)
        if wrapped is None:
            article = _record_to_article(data, source)
            _check_length(article, max_article_chars)
            return ParseResult(articles=(article,))
        data = wrapped
    if not isinstance(data, list):
        raise BadInputError(
            source, f"JSON must be an object or a list of objects, not {_json_type(data)}"
        )
    records = ((f"{source}#{index}", item) for index, item in enumerate(data))
    return _collect_records(records, source, max_article_chars)


def _wrapped_records(data: Mapping[str, object]) -> list[object] | None:
    keys = _normalised_keys(data)
    if any(key in keys for key in _TEXT_KEYS):
        return None
    for key in _WRAPPER_KEYS:
        value = keys.get(key)
        if isinstance(value, list):
            return value
    return None


def _parse_json_lines(text: str, source: str, max_article_chars: int) -> ParseResult:
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
            _check_length(article, max_article_chars)
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
    keys = _normalised_keys(record)
    text = _first_text(keys)
    if text is None:
        raise BadInputError(source, "record has no text (expected 'text', 'body' or 'content')")
    meta = _meta_from_mapping(keys)
    return _article_from_body(_prepare(text), meta, source, find_title=False)


def _normalised_keys(data: Mapping[str, object]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in data.items():
        normal = str(key).lower().replace("_", "").replace("-", "")
        result.setdefault(normal, value)
    return result


def _first_text(keys: Mapping[str, object]) -> str | None:
    for key in _TEXT_KEYS:
        value = keys.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n\n".join(str(item) for item in value)
        if isinstance(value, str) and value.strip():
            return value
    return None


# --------------------------------------------------------------------------------------
# Metadata shared by JSON records and front matter
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    title: str | None = None
    url: str | None = None
    outlet: str | None = None
    published: datetime | None = None
    country: str | None = None
    language: str | None = None
    author: str | None = None


def _meta_from_mapping(keys: Mapping[str, object]) -> _Meta:
    """Read the known metadata fields from a mapping whose keys are already normalised."""
    return _Meta(
        title=_first_of(keys, _TITLE_KEYS, _as_text),
        url=_first_of(keys, _URL_KEYS, _as_text),
        outlet=_first_of(keys, _OUTLET_KEYS, _as_name),
        published=_first_of(keys, _PUBLISHED_KEYS, _as_datetime),
        country=_first_of(keys, _COUNTRY_KEYS, _as_country),
        language=_first_of(keys, _LANGUAGE_KEYS, _as_text),
        author=_first_of(keys, _AUTHOR_KEYS, _as_names),
    )


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
        text = _collapse(str(value))
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
        return _naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(float(value))
    if isinstance(value, str):
        return parse_published(value)
    return None


def _from_timestamp(value: float) -> datetime | None:
    # Millisecond timestamps (JavaScript's Date.now()) are common in scraped JSON.
    seconds = value / 1000 if value > 1e11 else value
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return _plausible(_naive_utc(moment))


# --------------------------------------------------------------------------------------
# Text documents: front matter, Markdown, scraped text
# --------------------------------------------------------------------------------------


def parse_text(raw: str, *, source: str) -> ParsedArticle:
    """Parse scraped plain text, or text that starts with YAML/TOML front matter."""
    return _parse_document(raw, source=source, markdown=False)


def _parse_document(raw: str, *, source: str, markdown: bool) -> ParsedArticle:
    text = _prepare(raw)
    meta, body = _split_front_matter(text, source)
    if markdown:
        body = _markdown_to_text(body)
    return _article_from_body(body, meta, source, find_title=True)


# Zero-width spaces, soft hyphens, stray BOMs and C0 controls are invisible in a reader but
# would break quoting and matching; tab, newline, VT and form feed count as whitespace.
_INVISIBLE_RE = re.compile(r"[\u200b\u00ad\ufeff\x00-\x08\x0e-\x1f\x7f]")


def _prepare(raw: str) -> str:
    """Unify line breaks to "\n" and drop invisible characters."""
    # Plain `in` tests first: they are far cheaper than a regex pass over every article.
    text = raw
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for separator in ("\u2028", "\x85"):
        if separator in text:
            text = text.replace(separator, "\n")
    if "\u2029" in text:
        text = text.replace("\u2029", "\n\n")
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    return text


def _collapse(text: str) -> str:
    """Collapse every run of whitespace (NBSP and newlines included) to one space."""
    return " ".join(text.split())


# Front matter ---------------------------------------------------------------------------

_YAML_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)\s*:\s*(.*)$")
_YAML_BLOCK_MARKERS = frozenset({"", "|", ">", "|-", ">-", "|+", ">+"})


def _split_front_matter(text: str, source: str) -> tuple[_Meta, str]:
    """Split a leading ``---`` (YAML) or ``+++`` (TOML) block off `text`, if there is one."""
    lines = text.split("\n")
    fence = lines[0].strip() if lines else ""
    if fence not in ("---", "+++"):
        return _Meta(), text
    closers = ("---", "...") if fence == "---" else ("+++",)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in closers), None)
    if end is None:
        return _Meta(), text
    block = lines[1:end]
    body = "\n".join(lines[end + 1 :])
    if fence == "+++":
        try:
            data: Mapping[str, object] = tomllib.loads("\n".join(block))
        except tomllib.TOMLDecodeError as err:
            raise BadInputError(source, f"invalid TOML front matter: {err}") from None
    else:
        yaml = _parse_simple_yaml(block)
        if yaml is None:
            # Not key: value lines, so the "---" was a Markdown rule, not front matter.
            return _Meta(), text
        data = yaml
    return _meta_from_mapping(_normalised_keys(data)), body


def _parse_simple_yaml(lines: Sequence[str]) -> dict[str, object] | None:
    """Parse flat ``key: value`` YAML, with quoted scalars, flow lists and block lists.

    Returns None when a line is not of that shape; nested mappings are not supported
    because front matter of articles does not need them.
    """
    result: dict[str, object] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _YAML_KEY_RE.match(line)
        if match is None:
            return None
        key, value = match.group(1), match.group(2).strip()
        if value not in _YAML_BLOCK_MARKERS:
            result[key] = _yaml_scalar(value)
            continue
        block: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or lines[index][:1] in (" ", "\t", "-")
        ):
            block.append(lines[index])
            index += 1
        result[key] = _yaml_block(value, block)
    return result or None


def _yaml_block(marker: str, block: Sequence[str]) -> object:
    items = [line.strip() for line in block if line.strip()]
    if not items:
        return None
    if all(item.startswith("- ") or item == "-" for item in items):
        return [_yaml_scalar(item[1:].strip()) for item in items]
    pairs = [_YAML_KEY_RE.match(item) for item in items]
    if marker == "" and all(pairs):
        # A nested mapping such as "author:\n  name: Jane Doe"; one level is enough.
        return {pair.group(1): _yaml_scalar(pair.group(2).strip()) for pair in pairs if pair}
    separator = "\n" if marker.startswith("|") else " "
    return separator.join(items)


def _yaml_scalar(value: str) -> object:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded: object = json.loads(value)
        except json.JSONDecodeError:
            return value[1:-1]
        return decoded
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if value.startswith("[") and value.endswith("]"):
        parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^,]+", value[1:-1])
        return [_yaml_scalar(part.strip()) for part in parts if part.strip()]
    value = re.sub(r"\s+#.*$", "", value)
    return None if value in ("", "~", "null", "Null", "NULL") else value


# Markdown -------------------------------------------------------------------------------

_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])")
_MD_IMAGE_RE = re.compile(r"!\[[^\]\n]*\](?:\((?:[^()\n]|\([^()\n]*\))*\)|\[[^\]\n]*\])")
_MD_LINK_RE = re.compile(r"\[([^\]\n]+)\]\((?:[^()\n]|\([^()\n]*\))*\)")
_MD_REF_LINK_RE = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_MD_REF_DEF_RE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$")
_MD_AUTOLINK_RE = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_MD_HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_FENCE_RE = re.compile(r"^ {0,3}(?:```|~~~)")
_MD_QUOTE_RE = re.compile(r"^ {0,3}>[ \t]?")
_MD_BULLET_RE = re.compile(r"^\s*[-*+][ \t]+")
_MD_NUMBERED_RE = re.compile(r"^\s*\d{1,3}[.)][ \t]+")
_MD_STRONG_RE = re.compile(r"(?<!\w)(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_MD_EM_STAR_RE = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_MD_EM_UNDERSCORE_RE = re.compile(r"(?<![_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])")
_MD_STRIKE_RE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_CODE_RE = re.compile(r"(`+)(.+?)\1")
# Escaped characters are parked in the Private Use Area so emphasis rules cannot eat them.
_ESCAPE_BASE = 0xE000


def _markdown_to_text(markdown: str) -> str:
    """Reduce Markdown to plain lines; headings and list items become their own paragraphs."""
    text = _HTML_COMMENT_RE.sub("", markdown)
    text = _MD_ESCAPE_RE.sub(lambda m: chr(_ESCAPE_BASE + ord(m.group(1))), text)
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(_markdown_line(line))
    plain = "\n".join(lines)
    return re.sub(r"[\ue000-\ue07f]", lambda m: chr(ord(m.group(0)) - _ESCAPE_BASE), plain)


def _markdown_line(line: str) -> list[str]:
    if _MD_FENCE_RE.match(line) or _MD_REF_DEF_RE.match(line):
        return [""]
    while _MD_QUOTE_RE.match(line):
        line = _MD_QUOTE_RE.sub("", line, count=1)
    if _is_separator(line):
        return [line]
    heading = _MD_HEADING_RE.match(line)
    if heading:
        return ["", _markdown_inline(heading.group(1) or ""), ""]
    if _MD_BULLET_RE.match(line):
        return ["", _markdown_inline(_MD_BULLET_RE.sub("", line, count=1))]
    if _MD_NUMBERED_RE.match(line):
        return ["", _markdown_inline(line)]
    return [_markdown_inline(line)]


def _markdown_inline(text: str) -> str:
    text = _MD_IMAGE_RE.sub("", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_REF_LINK_RE.sub(r"\1", text)
    text = _MD_AUTOLINK_RE.sub(r"\1", text)
    text = _MD_CODE_RE.sub(lambda m: m.group(2).strip(), text)
    text = _MD_STRONG_RE.sub(r"\2", text)
    text = _MD_EM_STAR_RE.sub(r"\1", text)
    text = _MD_EM_UNDERSCORE_RE.sub(r"\1", text)
    return _MD_STRIKE_RE.sub(r"\1", text)


# --------------------------------------------------------------------------------------
# Cleaning a scraped page into title, metadata and body
# --------------------------------------------------------------------------------------

# Whole lines that are page furniture wherever they appear; compared lower-cased, without
# trailing punctuation, so "Advertisement", "ADVERTISEMENT" and "Share:" all match.
_EXACT_BOILERPLATE = frozenset(
    {
        "go to contents",
        "skip to main content",
        "skip to content",
        "skip to navigation",
        "skip navigation",
        "jump to content",
        "advertisement",
        "advertising",
        "sponsored",
        "sponsored content",
        "share",
        "share this",
        "share this article",
        "share this story",
        "share this page",
        "share on facebook",
        "share on twitter",
        "share via email",
        "tweet",
        "print",
        "email",
        "copy link",
        "link copied",
        "subscribe",
        "subscribe now",
        "sign up",
        "sign in",
        "log in",
        "register",
        "menu",
        "open menu",
        "close",
        "toggle navigation",
        "back to top",
        "read more",
        "continue reading",
        "story continues below",
        "story continues below advertisement",
        "article continues below",
        "scroll to continue",
        "scroll to continue with content",
        "listen to this article",
        "related",
        "related articles",
        "related stories",
        "related content",
        "related coverage",
        "more stories",
        "recommended",
        "recommended stories",
        "you may also like",
        "most read",
        "most popular",
        "top stories",
        "trending",
        "comments",
        "all rights reserved",
    }
)

# Headings of the link lists that close many scraped pages; everything after them goes.
_RELATED_SECTION_HEADINGS = frozenset(
    {
        "related",
        "related articles",
        "related stories",
        "related content",
        "related coverage",
        "read more",
        "more stories",
        "more on this story",
        "recommended",
        "recommended stories",
        "you may also like",
        "most read",
        "most popular",
        "top stories",
        "see also",
        "also read",
        "what to read next",
    }
)
_MAX_RELATED_LINKS = 15
_MAX_RELATED_LINK_CHARS = 150

# Boilerplate that is only removed at the top or bottom of a page, because the same words
# can start a real paragraph in the middle of an article.
_EDGE_BOILERPLATE_RE = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (
            r"^(?:copyright\s*)?(?:©|\(c\))",
            r"^copyright\s+(?:©\s*)?\d{4}\b",
            r"\ball rights reserved\b",
            r"^follow (?:us|me|[\w.'’-]+(?: [\w.'’-]+){0,3}) on (?:twitter|x|facebook|instagram"
            r"|linkedin|tiktok|threads|youtube|bluesky|mastodon|social media)\b",
            r"^click here\b",
            r"^(?:subscribe|sign up)\b.*\b(?:newsletters?|now|today|here|free|inbox|updates"
            r"|alerts|our|subscriber|subscription)\b",
            r"\bnewsletter\b.*\b(?:sign up|subscribe|inbox)\b",
            r"\b(?:sign up|subscribe)\b.*\bnewsletter",
            r"\bcookies?\b.*\b(?:we use|this (?:site|website) uses|accept|consent)\b",
            r"\bcookies?\b.*\bprivacy policy\b",
            r"\b(?:we use|this (?:site|website) uses)\b.*\bcookies?\b",
            r"^(?:read more|related|see also|also read|read also|more from|watch)\s*[:|»›]",
            r"^share (?:this|on|via)\b",
            r"^contributing\s*:",
        )
    ),
    re.IGNORECASE,
)

_ALNUM_RE = re.compile(r"[^\W_]")
_DIGIT_RE = re.compile(r"\d")
# "CNN —", "Washington CNN Business —": a dateline standing alone above the first paragraph.
_DATELINE_RE = re.compile(r"^[A-Z][\w .,'’&()-]{0,60}\s(?:—|–|--)$")


def _is_separator(text: str) -> bool:
    """A line without letters or digits: rules, "* * *", "___", a lone bullet."""
    return _ALNUM_RE.search(text) is None


def _is_exact_boilerplate(text: str) -> bool:
    return len(text) <= 60 and _boilerplate_key(text) in _EXACT_BOILERPLATE


def _boilerplate_key(text: str) -> str:
    return text.casefold().strip(" .:!|»›>-–—•·")


def _is_edge_boilerplate(text: str) -> bool:
    if _is_exact_boilerplate(text):
        return True
    if len(text) > _MAX_EDGE_BOILERPLATE:
        return False
    return _EDGE_BOILERPLATE_RE.search(text) is not None


@dataclass
class _Header:
    """What peeling the top of a page found."""

    title: str | None = None
    title_from_text: bool = False
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    body_start: int = 0
    dropped_title_repeat: bool = False


def _article_from_body(body: str, meta: _Meta, source: str, *, find_title: bool) -> ParsedArticle:
    lines = body.split("\n")
    header = _peel_header(lines, meta.title, find_title=find_title)
    end = _peel_footer(lines, header.body_start)
    paragraphs = _paragraphs(_without_inline_boilerplate(lines[header.body_start : end]))
    title = meta.title or header.title
    if not paragraphs and title and (header.title_from_text or header.dropped_title_repeat):
        # A page holding nothing but its headline: keep the headline as the text too.
        paragraphs = [title]
    if not paragraphs:
        raise BadInputError(source, "no article text found")
    return ParsedArticle(
        title=title or _title_from_text(paragraphs[0]),
        text="\n\n".join(paragraphs),
        source=source,
        url=meta.url,
        outlet=meta.outlet,
        published=meta.published or header.published or header.updated,
        country=meta.country,
        language=meta.language,
        author=meta.author or header.author,
    )


def _peel_header(lines: Sequence[str], title: str | None, *, find_title: bool) -> _Header:
    """Drop navigation, title, date and byline lines from the top; stop at the body.

    The first substantive line is the title (when `find_title`); later copies of it are
    dropped. The first line that is none of these starts the body.
    """
    header = _Header(title=title)
    title_key = title.casefold() if title else None
    index = 0
    while index < len(lines):
        text = _collapse(lines[index])
        if title_key is not None and text.casefold() == title_key:
            header.dropped_title_repeat = True
        elif _take_header_furniture(text, header):
            pass
        elif find_title and header.title is None and _is_title_line(lines, index, text):
            header.title = text
            header.title_from_text = True
            title_key = text.casefold()
        else:
            break
        index += 1
    header.body_start = index
    return header


def _take_header_furniture(text: str, header: _Header) -> bool:
    """Whether `text` is a blank, boilerplate, dateline, date or byline line.

    Dates and authors found on the way are recorded in `header`.
    """
    return (
        not text
        or _is_separator(text)
        or _is_edge_boilerplate(text)
        or _DATELINE_RE.match(text) is not None
        or _take_date_line(text, header)
        or _take_byline(text, header)
    )


def _is_title_line(lines: Sequence[str], index: int, text: str) -> bool:
    if len(text) > _MAX_TITLE_LINE or text.endswith((",", ";")):
        return False
    # Headlines do not end with a full stop; a line that does is the first sentence of a
    # page without a headline, and taking it as the title would cut it from the body.
    if text.endswith(".") and not text.endswith(("...", "..")):
        return False
    next_line = lines[index + 1].strip() if index + 1 < len(lines) else ""
    # A following line that starts in lower case continues a hard-wrapped paragraph.
    return not next_line[:1].islower()


def _take_date_line(text: str, header: _Header) -> bool:
    dates = _date_line(text)
    if dates is None:
        return False
    for kind, moment in dates:
        if kind == "updated":
            header.updated = header.updated or moment
        else:
            header.published = header.published or moment
    return True


def _take_byline(text: str, header: _Header) -> bool:
    # "Jane Doe, CNN" without "By" is only trusted below a headline: above one, it is
    # as likely to be a headline such as "Joe Biden, NATO".
    author = _byline(text, allow_bare=header.title is not None)
    if author is None:
        return False
    header.author = header.author or author
    return True


def _peel_footer(lines: Sequence[str], start: int) -> int:
    """Return the end of the body: trailing boilerplate and a related-links list removed."""
    end = _related_section_start(lines, start)
    while end > start:
        text = _collapse(lines[end - 1])
        if text and not _is_separator(text) and not _is_edge_boilerplate(text):
            break
        end -= 1
    return end


def _related_section_start(lines: Sequence[str], start: int) -> int:
    """Where a closing "Related articles" list of short headline lines begins, if any."""
    links = 0
    for index in range(len(lines) - 1, start - 1, -1):
        text = _collapse(lines[index])
        if not text:
            continue
        if _boilerplate_key(text) in _RELATED_SECTION_HEADINGS:
            return index
        links += 1
        if links > _MAX_RELATED_LINKS or len(text) > _MAX_RELATED_LINK_CHARS:
            break
    return len(lines)


def _without_inline_boilerplate(lines: Sequence[str]) -> list[str]:
    # Blanked rather than removed: such a line sits between paragraphs, and removing it
    # would join the paragraphs around it.
    result: list[str] = []
    for line in lines:
        text = line.strip()
        if text and (
            _is_separator(text) or (len(text) <= 60 and _is_exact_boilerplate(_collapse(text)))
        ):
            result.append("")
        else:
            result.append(line)
    return result


def _paragraphs(lines: Sequence[str]) -> list[str]:
    """Group lines into paragraphs at blank lines and normalise their whitespace."""
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line)
        elif block:
            paragraphs.extend(_block_paragraphs(block))
            block = []
    return paragraphs


def _block_paragraphs(block: Sequence[str]) -> list[str]:
    if len(block) > 1 and max(len(line) for line in block) > _HARD_WRAP_WIDTH:
        return [_collapse(line) for line in block if line.strip()]
    return [_collapse(" ".join(block))]


# Titles derived from text ---------------------------------------------------------------

_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+[\"'“‘(\[]*[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "gen",
        "sen",
        "rep",
        "gov",
        "lt",
        "col",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "pres",
        "no",
        "vs",
        "etc",
        "inc",
        "co",
        "corp",
        "ltd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


def _title_from_text(paragraph: str) -> str:
    """The first sentence of `paragraph`, cut at a word boundary to about 100 characters."""
    sentence = paragraph
    for match in _SENTENCE_END_RE.finditer(paragraph):
        if not _ends_with_abbreviation(paragraph[: match.start() + 1]):
            sentence = paragraph[: match.end()]
            break
    sentence = sentence.rstrip(".").strip()
    if len(sentence) <= _DERIVED_TITLE_CHARS:
        return sentence
    cut = sentence[: _DERIVED_TITLE_CHARS + 1]
    space = cut.rfind(" ")
    if space > _DERIVED_TITLE_CHARS // 2:
        cut = cut[:space]
    return cut[:_DERIVED_TITLE_CHARS].rstrip(" ,;:-–—") + "…"


def _ends_with_abbreviation(text: str) -> bool:
    word = text.rsplit(maxsplit=1)[-1] if text.strip() else ""
    # Initials and dotted abbreviations: "U.S.", "J.", "a.m."
    if re.fullmatch(r"(?:\w\.)+", word):
        return True
    return word.rstrip(".").lstrip("\"'“‘(").casefold() in _ABBREVIATIONS


# Bylines ----------------------------------------------------------------------------------

_BYLINE_RE = re.compile(
    r"^(?:by|written by|words by|story by|reporting by)\s*:?\s+(?P<names>.+)$", re.IGNORECASE
)
_NAME_PARTICLES = frozenset(
    [
        "and",
        "&",
        "de",
        "van",
        "von",
        "der",
        "den",
        "da",
        "di",
        "du",
        "del",
        "della",
        "la",
        "le",
        "al",
        "el",
        "bin",
        "ibn",
        "y",
        "dos",
        "das",
    ]
)
_NAME_WORD_RE = re.compile(r"^(?:[A-Z\u00c0-\u024f][\w.'’-]*|[A-Z]\.)$")
_AFFILIATION_WORDS = frozenset(
    [
        "reuters",
        "ap",
        "afp",
        "cnn",
        "bbc",
        "bloomberg",
        "press",
        "news",
        "staff",
        "correspondent",
        "reporter",
        "writer",
        "editor",
        "times",
        "post",
        "agency",
        "associated",
        "journal",
        "tribune",
        "herald",
        "today",
        "guardian",
        "telegraph",
    ]
)
_KNOWN_WIRES = frozenset({"ap", "afp", "cnn", "bbc", "reuters", "upi", "dpa", "efe"})


def _byline(text: str, *, allow_bare: bool) -> str | None:
    """The author named by a byline such as "By Jane Doe and John Roe, Reuters", or None.

    With `allow_bare`, "Jane Doe, CNN" (a name, then a known outlet) counts too.
    """
    if len(text) > _MAX_HEADER_LINE:
        return None
    match = _BYLINE_RE.match(text)
    if match is None:
        return _name_comma_outlet(text) if allow_bare else None
    names = re.split(r"\s*[|•·]\s*", match.group("names"))[0].strip()
    segments = [segment.strip() for segment in names.split(",") if segment.strip()]
    if not segments or not all(_is_name_like(segment) for segment in segments):
        return None
    people = [segment for segment in segments if not _is_affiliation(segment)]
    return ", ".join(people or segments)


def _name_comma_outlet(text: str) -> str | None:
    """Recognise "Jane Doe, CNN": two to four capitalised words, then a known outlet."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2:
        return None
    name, outlet = parts
    words = name.split()
    if not 2 <= len(words) <= 4 or not all(_NAME_WORD_RE.match(word) for word in words):
        return None
    outlet_words = outlet.split()
    is_outlet = outlet.casefold() in _KNOWN_WIRES or (
        len(outlet) >= 3 and 1 <= len(outlet_words) <= 4 and outlet.isupper()
    )
    return name if is_outlet else None


def _is_name_like(segment: str) -> bool:
    words = segment.split()
    if not 1 <= len(words) <= 8:
        return False
    return all(
        _NAME_WORD_RE.match(word) or word.casefold() in _NAME_PARTICLES for word in words
    ) and bool(_NAME_WORD_RE.match(words[0]))


def _is_affiliation(segment: str) -> bool:
    words = segment.split()
    return (
        len(words) == 1
        or segment.isupper()
        or any(word.casefold().strip(".") in _AFFILIATION_WORDS for word in words)
    )


# --------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------

_MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS = frozenset(
    [
        "monday",
        "mon",
        "tuesday",
        "tue",
        "tues",
        "wednesday",
        "wed",
        "thursday",
        "thu",
        "thur",
        "thurs",
        "friday",
        "fri",
        "saturday",
        "sat",
        "sunday",
        "sun",
    ]
)
# Offsets in minutes. "IST" (India, Israel, Ireland) is left out on purpose: ambiguous.
_TZ_OFFSETS: dict[str, int] = {
    "utc": 0,
    "gmt": 0,
    "z": 0,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
    "bst": 60,
    "cet": 60,
    "cest": 120,
    "eet": 120,
    "eest": 180,
    "msk": 180,
    "kst": 540,
    "jst": 540,
    "hkt": 480,
    "sgt": 480,
    "aest": 600,
    "aedt": 660,
}
# US newsrooms write "ET" for whichever of EST/EDT is in force.
_TZ_ZONES: dict[str, str] = {
    "et": "America/New_York",
    "ct": "America/Chicago",
    "mt": "America/Denver",
    "pt": "America/Los_Angeles",
}
_DATE_FILLERS = frozenset({"at", "on", "the", "of", "t"})
_DATE_WORDS = frozenset(
    {*_MONTHS, *_WEEKDAYS, *_TZ_OFFSETS, *_TZ_ZONES, *_DATE_FILLERS, "am", "pm", "a", "p", "m"}
    | {"st", "nd", "rd", "th"}
)

_MONTH_ALTERNATION = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MDY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_ALTERNATION})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b,?\s*"
    r"(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_DMY_RE = re.compile(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<mon>{_MONTH_ALTERNATION})\.?,?\s+"
    r"(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_YMD_RE = re.compile(r"\b(?P<year>\d{4})[-/.](?P<mon>\d{1,2})[-/.](?P<day>\d{1,2})\b")
_NUMERIC_DATE_RE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_TIME_RE = re.compile(
    r"(?<![\d:.])(?P<hour>\d{1,2})(?:[:.](?P<minute>[0-5]\d)(?:[:.](?P<second>[0-5]\d))?"
    r"(?:\.\d+)?)?(?!\d)\s*(?:(?P<ampm>[ap])\.?\s?m\b\.?)?",
    re.IGNORECASE,
)
_OFFSET_RE = re.compile(r"(?:\b(?:utc|gmt))?\s*(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})\b", re.I)
_ISO_START_RE = re.compile(r"^\d{4}-?\d{2}-?\d{2}")
_RFC2822_RE = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_YEAR_RE = re.compile(r"(?<!\d)(?:1[89]|2[01])\d{2}(?!\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")
_DATE_LABEL_RE = re.compile(
    r"\b(posted|published|updated|last updated|last modified|modified|first published"
    r"|originally published|date|dated|released|created)(?:\s+on)?\b\s*:?",
    re.IGNORECASE,
)
_UPDATE_LABELS = frozenset({"updated", "last updated", "last modified", "modified"})
_DATEPARSER_SETTINGS: dict[str, object] = {
    "PREFER_DAY_OF_MONTH": "first",
    # Relative dates ("2 hours ago") are skipped: they would be read against today.
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"],
    "REQUIRE_PARTS": ["month", "year"],
}


def parse_published(value: str) -> datetime | None:
    """Parse a publication date leniently; None when `value` holds no recognisable date.

    Handles ISO 8601 (with or without time and offset), "2023/01/05", RFC 2822, and
    English spellings such as "April. 12, 2024 07:53", "5 January 2023" or
    "3:04 PM EST, Thu January 5, 2023"; anything else with a year in it goes to
    `dateparser`, which is slower but knows other languages. A date with a timezone is
    converted to UTC; every result is naive.
    """
    text = _collapse(value).strip(" ,;|·•")
    label = _DATE_LABEL_RE.match(text)
    if label is not None:
        text = text[label.end() :].strip(" ,;|·•")
    if not text or len(text) > _MAX_HEADER_LINE or not _DIGIT_RE.search(text):
        return None
    for parser in (_parse_iso, _parse_rfc2822, _parse_spelled_out, _parse_with_dateparser):
        moment = parser(text)
        if moment is not None:
            return _plausible(moment)
    return None


def _plausible(moment: datetime) -> datetime | None:
    return moment if 1800 <= moment.year <= 2200 else None


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _parse_iso(text: str) -> datetime | None:
    if not _ISO_START_RE.match(text):
        return None
    try:
        return _naive_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> datetime | None:
    if not _RFC2822_RE.match(text):
        return None
    try:
        return _naive_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _parse_spelled_out(text: str) -> datetime | None:
    """Dates with a month name or as year/month/day, plus an optional time and zone.

    Whatever is left after taking out the date and time must be weekday names, fillers
    ("at", "on") or a zone, so that a date inside a sentence is not mistaken for a date.
    """
    match = _YMD_RE.search(text) or _MDY_RE.search(text) or _DMY_RE.search(text)
    if match is None:
        return None
    month_text = match.group("mon")
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
    rest = f"{text[: match.start()]} {text[match.end() :]}"
    hour = minute = second = 0
    time_match = _find_time(rest)
    if time_match is not None:
        hour, minute, second = _time_parts(time_match)
        rest = f"{rest[: time_match.start()]} {rest[time_match.end() :]}"
    known, zone = _zone_from_rest(rest)
    if not known:
        return None
    try:
        moment = datetime(
            int(match.group("year")), month, int(match.group("day")), hour, minute, second
        )
    except ValueError:
        return None
    if zone is None:
        return moment
    return _naive_utc(moment.replace(tzinfo=zone))


def _find_time(text: str) -> re.Match[str] | None:
    for match in _TIME_RE.finditer(text):
        # A bare number is only a time with "am"/"pm" ("3 pm"); otherwise it needs minutes.
        if match.group("minute") is not None or match.group("ampm") is not None:
            return match
    return None


def _time_parts(match: re.Match[str]) -> tuple[int, int, int]:
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    second = int(match.group("second") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm == "p" and hour < 12:
        hour += 12
    elif ampm == "a" and hour == 12:
        hour = 0
    return (hour, minute, second) if hour < 24 else (0, 0, 0)


def _zone_from_rest(rest: str) -> tuple[bool, tzinfo | None]:
    """The zone named in what is left of a date string.

    The flag is False when anything but a zone, weekday names and fillers is left.
    """
    zone: tzinfo | None = None
    offset = _OFFSET_RE.search(rest)
    if offset is not None:
        minutes = int(offset.group("hh")) * 60 + int(offset.group("mm"))
        sign = -1 if offset.group("sign") == "-" else 1
        zone = timezone(timedelta(minutes=sign * minutes))
        rest = f"{rest[: offset.start()]} {rest[offset.end() :]}"
    if _DIGIT_RE.search(rest):
        return False, None
    for word in _WORD_RE.findall(rest):
        key = word.lower()
        if key in _TZ_OFFSETS:
            zone = zone or timezone(timedelta(minutes=_TZ_OFFSETS[key]))
        elif key in _TZ_ZONES:
            zone = zone or _named_zone(_TZ_ZONES[key])
        elif key not in _WEEKDAYS and key not in _DATE_FILLERS:
            return False, None
    return True, zone


def _named_zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def _parse_with_dateparser(text: str) -> datetime | None:
    # Without a year, dateparser fills in the current one: a guess, not a date.
    if not _YEAR_RE.search(text):
        return None
    import dateparser  # slow to import and to call, so only reached as a last resort

    try:
        moment = dateparser.parse(text, settings=_DATEPARSER_SETTINGS)
    except Exception:  # a third-party fallback must never abort an ingest
        return None
    return _naive_utc(moment) if isinstance(moment, datetime) else None


def _date_line(text: str) -> list[tuple[str, datetime]] | None:
    """Read a header line that holds only dates, such as "Posted April. 12, 2024 07:53,".

    Returns ``(kind, datetime)`` pairs, kind being "published" or "updated", or None when
    the line holds anything besides labels and dates.
    """
    if len(text) > _MAX_HEADER_LINE or not _DIGIT_RE.search(text):
        return None
    parts = _DATE_LABEL_RE.split(text)
    segments = [("published", parts[0])]
    segments += [
        ("updated" if _collapse(label).lower() in _UPDATE_LABELS else "published", segment)
        for label, segment in zip(parts[1::2], parts[2::2], strict=True)
    ]
    found: list[tuple[str, datetime]] = []
    for kind, segment in segments:
        segment = segment.strip(" ,;|·•-–—()")
        if not segment:
            continue
        moment = parse_published(segment) if _looks_like_date(segment) else None
        if moment is None:
            return None
        found.append((kind, moment))
    return found or None


def _looks_like_date(text: str) -> bool:
    words = [word.lower() for word in _WORD_RE.findall(text)]
    if not all(word in _DATE_WORDS for word in words):
        return False
    return any(word in _MONTHS for word in words) or bool(_NUMERIC_DATE_RE.search(text))
