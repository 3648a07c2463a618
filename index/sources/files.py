"""Input files into articles: finding them, reading them, and parsing each by its format.

A file's suffix picks its parser: scraped text and Markdown (:mod:`index.sources.scraped_text`),
JSON and JSON Lines (:mod:`index.sources.json_records`), HTML pages
(:mod:`index.sources.html`). Every format ends in the same clean-up rules
(:mod:`index.sources.cleanup`), because the stored text is what answers later quote verbatim.

A file that cannot be used at all raises :class:`~index.errors.BadInputError`, whatever
went wrong while reading it (a library's own error included); a bad record inside a JSON
or JSON Lines file that otherwise parsed becomes a :class:`~index.models.FailedInput` in
:attr:`~index.models.ParseResult.failures`.

Symbolic links are not followed out of a folder being read: a link in a shared folder
must not make geobot read (and later quote) ``/etc/passwd`` or a private key. A link named
directly is read only when the caller allows it (``geobot ingest --follow-links``).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.errors import BadInputError
from index.models import FailedInput, ParseResult
from index.sources.cleanup import check_article_length
from index.sources.json_records import parse_json_document, parse_json_lines
from index.sources.scraped_text import parse_document
from index.sources.unexpected import unexpected_failure

__all__ = ["SUPPORTED_SUFFIXES", "InputFiles", "find_input_files", "iter_input_paths", "parse_file"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".text", ".md", ".markdown", ".json", ".jsonl", ".ndjson", ".html", ".htm"}
)
_MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})

# Binary files almost always show a NUL byte early; text never does.
_BINARY_SNIFF_BYTES = 8192


# --------------------------------------------------------------------------------------
# Finding input files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputFiles:
    """The files to read, in order, and the paths passed over with the reason why."""

    files: tuple[Path, ...]
    skipped: tuple[FailedInput, ...]


def find_input_files(paths: Iterable[Path], *, follow_links: bool = False) -> InputFiles:
    """The files named, and the supported files inside the folders named, recursively.

    Folders are walked in sorted order, skipping hidden files and folders and files whose
    suffix is not in :data:`SUPPORTED_SUFFIXES`. A file named explicitly is taken whatever
    its suffix, so that :func:`parse_file` can say why it is unsupported. Each file is
    taken once, however many links lead to it.

    Symbolic links: one named directly is passed over unless `follow_links`. Inside a
    folder, a link is followed only when it points inside that folder (loops are
    harmless); one pointing outside it, or nowhere, is passed over with the reason.
    """
    walk = _Walk()
    for path in paths:
        source = str(path)
        if path.is_symlink() and not follow_links:
            walk.skip(
                path,
                f"is a symbolic link (to {_link_target(path)}): not followed unless links "
                "are allowed (geobot ingest --follow-links)",
            )
        elif not path.exists():
            broken = path.is_symlink()
            walk.skipped.append(
                FailedInput(source, "broken symbolic link" if broken else "no such file or folder")
            )
        elif path.is_dir():
            walk.folder(path, root=path.resolve())
        else:
            walk.take(path)
    return InputFiles(tuple(walk.files), tuple(walk.skipped))


def iter_input_paths(paths: Iterable[Path], *, follow_links: bool = False) -> Iterator[Path]:
    """The files of :func:`find_input_files`, having checked first that every path
    exists (a typo fails before any work is done); links passed over are left out."""
    given = list(paths)
    for path in given:
        if not path.exists():
            raise BadInputError(str(path), "no such file or folder")
    yield from find_input_files(given, follow_links=follow_links).files


class _Walk:
    """What a walk has found so far: files, passed-over paths, real paths already seen."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.skipped: list[FailedInput] = []
        self.seen: set[Path] = set()

    def skip(self, path: Path, reason: str) -> None:
        self.skipped.append(FailedInput(str(path), reason))

    def take(self, path: Path) -> None:
        real = path.resolve()
        if real not in self.seen:
            self.seen.add(real)
            self.files.append(path)

    def folder(self, folder: Path, *, root: Path) -> None:
        real = folder.resolve()
        if real in self.seen:  # a link back up the tree, or to a folder already walked
            return
        self.seen.add(real)
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError as err:
            self.skip(folder, f"cannot read folder: {err.strerror or err}")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                self.link(entry, root=root)
            elif entry.is_dir():
                self.folder(entry, root=root)
            elif entry.is_file() and entry.suffix.lower() in SUPPORTED_SUFFIXES:
                self.take(entry)

    def link(self, link: Path, *, root: Path) -> None:
        wanted = link.suffix.lower() in SUPPORTED_SUFFIXES
        try:
            target = link.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling, or a loop of links
            if wanted:
                self.skip(link, f"broken symbolic link (to {_link_target(link)})")
            return
        if not target.is_relative_to(root):
            if wanted or target.is_dir():
                self.skip(
                    link, f"symbolic link to {target}, outside the folder being read: not followed"
                )
            return
        if target.is_dir():
            self.folder(link, root=root)
        elif wanted and target.is_file():
            self.take(link)


def _link_target(link: Path) -> str:
    try:
        return str(link.readlink())
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------


def parse_file(
    path: Path, *, max_file_bytes: int = 50_000_000, max_article_chars: int = 2_000_000
) -> ParseResult:
    """Parse one input file into articles.

    Raises :class:`BadInputError` (``source=str(path)``) when the whole file is unusable:
    missing, unsupported, empty, binary, not UTF-8, too large, malformed JSON, nested too
    deeply, without any article text, or anything else that went wrong reading it (the
    traceback then goes to the debug log). HTML pages go to
    :func:`index.sources.html.extract_html` as bytes, so that the charset the page
    declares is honoured.
    """
    try:
        return _parse(path, max_file_bytes, max_article_chars)
    except BadInputError:
        raise
    except Exception as exc:
        # One file's failure, whatever it is, must not cost the files beside it.
        raise unexpected_failure(str(path), exc) from exc


def _parse(path: Path, max_file_bytes: int, max_article_chars: int) -> ParseResult:
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES:
        # Imported here: trafilatura is slow to load, and only HTML files need it.
        from index.sources.html import extract_html

        data = _read_bytes(path, max_file_bytes)
        _check_not_empty_or_binary(data, source)
        html_article = extract_html(data, source=source, max_article_chars=max_article_chars)
        return ParseResult(articles=(html_article,))
    text = _read_text(path, max_file_bytes)
    if suffix in _JSON_LINES_SUFFIXES:
        return parse_json_lines(text, source, max_article_chars)
    if suffix == ".json":
        return parse_json_document(text, source, max_article_chars)
    article = parse_document(text, source=source, markdown=suffix in _MARKDOWN_SUFFIXES)
    check_article_length(article, max_article_chars)
    return ParseResult(articles=(article,))


def _read_text(path: Path, max_file_bytes: int) -> str:
    text = _decode(_read_bytes(path, max_file_bytes), str(path))
    if not text.strip():
        raise BadInputError(str(path), "empty file")
    return text


def _read_bytes(path: Path, max_file_bytes: int) -> bytes:
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise BadInputError(source, "no such file or folder") from None
    except OSError as err:
        raise BadInputError(source, f"cannot read file: {err.strerror or err}") from None
    if path.is_dir():
        raise BadInputError(source, "is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        # Reading a pipe or a device could block forever or never end.
        raise BadInputError(source, "not a regular file (a pipe, socket or device)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "(no suffix)"
        raise BadInputError(source, f"unsupported file type {shown}")
    # Checked before reading, so a huge file is never loaded into memory.
    if info.st_size > max_file_bytes:
        raise BadInputError(
            source,
            f"file is {_format_size(info.st_size)}, over the {_format_size(max_file_bytes)} "
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
