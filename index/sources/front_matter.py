"""Front matter: a YAML (``---``) or TOML (``+++``) block of metadata at the top of a document.

YAML is read by a small parser of the flat shapes front matter uses (``key: value``, quoted
scalars, flow and block lists, one level of nesting), so no YAML library is needed; a block
that is not of that shape is a Markdown rule, not front matter.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence

from index.errors import BadInputError
from index.sources.metadata import ArticleMeta, meta_from_mapping, normalised_keys

__all__ = ["split_front_matter"]

_YAML_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)\s*:\s*(.*)$")
_YAML_BLOCK_MARKERS = frozenset({"", "|", ">", "|-", ">-", "|+", ">+"})


def split_front_matter(text: str, source: str) -> tuple[ArticleMeta, str]:
    """Split a leading ``---`` (YAML) or ``+++`` (TOML) block off `text`, if there is one."""
    lines = text.split("\n")
    fence = lines[0].strip() if lines else ""
    if fence not in ("---", "+++"):
        return ArticleMeta(), text
    closers = ("---", "...") if fence == "---" else ("+++",)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in closers), None)
    if end is None:
        return ArticleMeta(), text
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
            return ArticleMeta(), text
        data = yaml
    return meta_from_mapping(normalised_keys(data)), body


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
