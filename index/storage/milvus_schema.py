"""The Milvus collections of a library, their ids and the rows written to them.

Three collections, named ``<prefix>_articles``, ``<prefix>_passages`` and ``<prefix>_meta``:

- articles: one *head* row per article (id = the article id) with its metadata and the
  first piece of its text, and continuation rows (``part`` > 0) with the rest of a text
  longer than a VARCHAR holds. Every row carries the ``version`` (the content digest) of
  the text it belongs to.
- passages: one row per passage with its span, the passage's dense vector, the text that
  Milvus's own BM25 function turns into the sparse keyword vector, and copies of the
  article's date, outlet and country for filtering inside the searches.
- meta: the library's settings (model, dimension) and the journal of writes in progress.

Ids are derived from the article key (the first 63 bits of a sha256): every process
computes the same id for the same article and the same passage ids for the same text, so
writes are idempotent and need no central counter. Milvus requires a vector field in every
collection: articles and meta carry a two-dimensional placeholder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from index.config import MilvusConfig
from index.models import Article, Passage, Span
from index.storage.rows import ArticleRecord, NewPassage

__all__ = [
    "PLACEHOLDER",
    "TEXT_PIECE",
    "article_from_rows",
    "article_id_candidates",
    "article_rows",
    "passage_from_row",
    "passage_id_for",
    "passage_rows",
    "published_value",
    "schemas",
]

# Characters per VARCHAR piece: at most 4 bytes each in UTF-8, under Milvus's 65,535 bytes.
TEXT_PIECE = 16_000
VARCHAR_BYTES = 65_535
PLACEHOLDER = [0.0, 0.0]
# The title's share of the keyword text of a passage (FTS5 weights it apart; here it
# rides along with the body).
SEARCH_TITLE_CHARS = 500


def _id63(*parts: str) -> int:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1 or 1


# Article ids are typed by users and sent as Discord integer options (at most 2^53), so
# they have 52 bits; two keys may then share a slot in a large library (0.5% at 7 million
# articles), so a key has a few slots, tried in order: the first holding the key, or the
# first free one for a new article.
ARTICLE_ID_SLOTS = 8


def article_id_candidates(key: str) -> list[int]:
    return [(_id63("article", key, str(slot)) >> 11) or 1 for slot in range(ARTICLE_ID_SLOTS)]


def passage_id_for(key: str, version: str, ordinal: int) -> int:
    return _id63("passage", key, version, str(ordinal))


def _part_id(key: str, version: str, part: int) -> int:
    return _id63("part", key, version, str(part))


def published_value(when: datetime) -> int:
    """A date as the integer the filters compare: microseconds since 1970, naive = UTC."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _clip(text: str | None, chars: int = TEXT_PIECE) -> str | None:
    return None if text is None else text[:chars]


def _lower(text: str | None) -> str | None:
    return None if text is None else text[:TEXT_PIECE].lower()


def schemas(client: Any, config: MilvusConfig) -> dict[str, Any]:
    """The schemas of the three collections (the passages' without its vector field,
    whose dimension is known later: see :func:`passage_schema`)."""
    from pymilvus import DataType

    def base() -> Any:
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        return schema

    articles = base()
    articles.add_field("id", DataType.INT64, is_primary=True)
    articles.add_field("article_id", DataType.INT64)
    articles.add_field("part", DataType.INT64)
    articles.add_field("parts", DataType.INT64)
    articles.add_field("version", DataType.VARCHAR, max_length=128)
    articles.add_field("body", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    for name in ("key", "title", "source", "content_hash", "metadata_hash"):
        articles.add_field(name, DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    for name in ("url", "outlet", "country", "language", "author", "published_text"):
        articles.add_field(name, DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    articles.add_field("outlet_lc", DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    articles.add_field("published", DataType.INT64, nullable=True)
    articles.add_field("passage_count", DataType.INT64)
    articles.add_field("written_at", DataType.INT64)
    articles.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)

    meta = base()
    meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    meta.add_field("value", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    meta.add_field("written_at", DataType.INT64)
    meta.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    return {"articles": articles, "meta": meta}


def passage_schema(client: Any, config: MilvusConfig, dimension: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("article_id", DataType.INT64)
    schema.add_field("version", DataType.VARCHAR, max_length=128)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("sentences", DataType.VARCHAR, max_length=VARCHAR_BYTES)
    schema.add_field(
        "text",
        DataType.VARCHAR,
        max_length=VARCHAR_BYTES,
        enable_analyzer=True,
        enable_match=True,
        analyzer_params=config.analyzer,
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("published", DataType.INT64, nullable=True)
    schema.add_field("outlet_lc", DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    schema.add_field("country_lc", DataType.VARCHAR, max_length=VARCHAR_BYTES, nullable=True)
    schema.add_field("written_at", DataType.INT64)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    return schema


def article_rows(
    record: ArticleRecord, article_id: int, passage_count: int, now: int
) -> list[dict[str, Any]]:
    """The continuation rows and (last) the head row of an article."""
    pieces = [
        record.text[i : i + TEXT_PIECE] for i in range(0, max(len(record.text), 1), TEXT_PIECE)
    ]
    version = record.content_hash
    head = {
        "id": article_id,
        "article_id": article_id,
        "part": 0,
        "parts": len(pieces),
        "version": version,
        "body": pieces[0],
        "key": record.key,
        "title": _clip(record.title),
        "source": _clip(record.source),
        "content_hash": record.content_hash,
        "metadata_hash": record.metadata_hash,
        "url": _clip(record.url),
        "outlet": _clip(record.outlet),
        "country": _clip(record.country),
        "language": _clip(record.language),
        "author": _clip(record.author),
        "published_text": record.published.isoformat() if record.published else None,
        "outlet_lc": _lower(record.outlet),
        "published": published_value(record.published) if record.published else None,
        "passage_count": passage_count,
        "written_at": now,
        "placeholder": PLACEHOLDER,
    }
    empty = dict.fromkeys(
        ("key", "title", "source", "content_hash", "metadata_hash", "url", "outlet"), None
    )
    rest = [
        {
            **empty,
            **dict.fromkeys(("country", "language", "author", "published_text"), None),
            "id": _part_id(record.key, version, part),
            "article_id": article_id,
            "part": part,
            "parts": len(pieces),
            "version": version,
            "body": piece,
            "outlet_lc": None,
            "published": None,
            "passage_count": 0,
            "written_at": now,
            "placeholder": PLACEHOLDER,
        }
        for part, piece in enumerate(pieces[1:], start=1)
    ]
    return [*rest, head]


def passage_filter_fields(record: ArticleRecord) -> dict[str, Any]:
    """The article fields copied onto its passages for filtering."""
    return {
        "published": published_value(record.published) if record.published else None,
        "outlet_lc": _lower(record.outlet),
        "country_lc": _lower(record.country),
    }


def passage_rows(
    record: ArticleRecord, article_id: int, passages: Sequence[NewPassage], now: int
) -> list[dict[str, Any]]:
    title = (record.title or "")[:SEARCH_TITLE_CHARS]
    filters = passage_filter_fields(record)
    return [
        {
            "id": passage_id_for(record.key, record.content_hash, p.ordinal),
            "article_id": article_id,
            "version": record.content_hash,
            "ordinal": p.ordinal,
            "start": p.start,
            "end": p.end,
            "sentences": json.dumps([[s.start, s.end] for s in p.sentences]),
            # Only searched, never shown (a passage's text is read from its article's),
            # so a clipped keyword text loses nothing but recall in the rest of a very
            # long passage.
            "text": f"{title}\n{record.text[p.start : p.end]}"[:TEXT_PIECE],
            "vector": [float(x) for x in p.vector],
            **filters,
            "written_at": now,
        }
        for p in passages
    ]


def article_from_rows(head: dict[str, Any], parts: Sequence[dict[str, Any]]) -> Article:
    """An article from its head row and its continuation rows (any order, any version:
    those of the head's version are used)."""
    pieces = sorted(
        (int(r["part"]), str(r["body"])) for r in parts if r["version"] == head["version"]
    )
    text = str(head["body"]) + "".join(body for _, body in pieces)
    published = head.get("published_text")
    return Article(
        id=int(head["id"]),
        key=str(head["key"]),
        title=str(head["title"]),
        text=text,
        url=head.get("url"),
        outlet=head.get("outlet"),
        published=datetime.fromisoformat(published) if published else None,
        country=head.get("country"),
        language=head.get("language"),
        author=head.get("author"),
        source=str(head["source"]),
        passage_count=int(head["passage_count"]),
    )


def passage_from_row(row: dict[str, Any], article: Article) -> Passage:
    start, end = int(row["start"]), int(row["end"])
    return Passage(
        id=int(row["id"]),
        article_id=int(row["article_id"]),
        ordinal=int(row["ordinal"]),
        start=start,
        end=end,
        text=article.text[start:end],
        sentences=tuple(Span(int(a), int(b)) for a, b in json.loads(row["sentences"])),
    )
