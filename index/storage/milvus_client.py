"""The collections of one library in Milvus, and the requests the backend makes of them.

Every request goes through :meth:`MilvusCollections.call`, which turns Milvus's errors
(a server that cannot be reached, a bad request) into a one-line StoreError.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from index.config import MilvusConfig
from index.errors import StoreError
from index.storage.milvus_schema import PLACEHOLDER, passage_schema, published_value, schemas
from index.storage.rows import ArticleFilter

__all__ = [
    "HEAD_FIELDS",
    "PASSAGE_FIELDS",
    "QUERY_LIMIT",
    "MilvusCollections",
    "error_message",
    "filter_expression",
    "microseconds_now",
    "with_literals",
]

T = TypeVar("T")
HEAD_FIELDS = [
    "id", "article_id", "part", "parts", "version", "body", "key", "title", "source",
    "content_hash", "metadata_hash", "url", "outlet", "country", "language", "author",
    "published_text", "passage_count",
]  # fmt: skip
PASSAGE_FIELDS = ["id", "article_id", "version", "ordinal", "start", "end", "sentences"]
# Milvus's cap on one request's results.
QUERY_LIMIT = 16_384


def microseconds_now() -> int:
    return time.time_ns() // 1000


def filter_expression(where: ArticleFilter) -> tuple[str, dict[str, Any]]:
    """The Milvus expression (a template, and its parameters) of a search filter on the
    passages' copies of the article fields."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if where.since is not None:
        clauses.append("published >= {since}")
        params["since"] = published_value(where.since)
    if where.until is not None:
        clauses.append("published <= {until}")
        params["until"] = published_value(where.until)
    if where.outlet is not None:
        clauses.append("outlet_lc == {outlet}")
        params["outlet"] = where.outlet.lower()
    if where.country is not None:
        clauses.append("country_lc == {country}")
        params["country"] = where.country.lower()
    return " and ".join(clauses), params


class MilvusCollections:
    """A connected client and the names of the library's three collections."""

    def __init__(self, client: Any, settings: MilvusConfig) -> None:
        self.client = client
        self.settings = settings
        prefix = settings.collection_prefix
        self.articles = f"{prefix}_articles"
        self.passages = f"{prefix}_passages"
        self.meta = f"{prefix}_meta"

    def call(self, action: Callable[[], T]) -> T:
        """Run `action` (requests to Milvus); Milvus's errors become one StoreError line."""
        try:
            return action()
        except StoreError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("pymilvus", "grpc", "milvus_lite")):
                raise StoreError(f"Milvus: {error_message(exc)}") from None
            raise

    def request(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One request: the client's `method` with these arguments."""
        return self.call(lambda: getattr(self.client, method)(*args, **kwargs))

    def delete_where(self, collection: str, expression: str, params: dict[str, Any]) -> None:
        self.request("delete", collection, filter=with_literals(expression, params))

    def create_collections(self) -> None:
        made = schemas(self.client, self.settings)
        for name, schema in ((self.articles, made["articles"]), (self.meta, made["meta"])):
            if self.request("has_collection", name):
                # Reopened, a collection is released until loaded.
                self.request("load_collection", name)
                continue
            params = self.client.prepare_index_params()
            params.add_index("placeholder", index_type="FLAT", metric_type="L2")
            self.request(
                "create_collection",
                name,
                schema=schema,
                index_params=params,
                consistency_level="Strong",
            )

    def create_passages(self, dimension: int) -> None:
        if self.request("has_collection", self.passages):
            self.request("load_collection", self.passages)
            return
        params = self.client.prepare_index_params()
        params.add_index(
            "vector",
            index_type=self.settings.index_type,
            metric_type="IP",
            params=dict(self.settings.index_params),
        )
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        schema = passage_schema(self.client, self.settings, dimension)
        self.request(
            "create_collection",
            self.passages,
            schema=schema,
            index_params=params,
            consistency_level="Strong",
        )

    def get_meta(self, key: str) -> str | None:
        rows = self.request("query", self.meta, ids=[key], output_fields=["value"])
        return str(rows[0]["value"]) if rows else None

    def set_meta(self, values: dict[str, str]) -> None:
        now = microseconds_now()
        rows = [
            {"key": k, "value": v, "written_at": now, "placeholder": PLACEHOLDER}
            for k, v in values.items()
        ]
        self.request("upsert", self.meta, rows)

    def query_all(
        self, collection: str, expression: str, params: dict[str, Any], fields: list[str]
    ) -> list[dict[str, Any]]:
        """Every row matching `expression`, however many (one request returns at most
        QUERY_LIMIT)."""
        literal = with_literals(expression, params)

        def run() -> list[dict[str, Any]]:
            iterator = self.client.query_iterator(
                collection, batch_size=1000, filter=literal, output_fields=fields
            )
            rows: list[dict[str, Any]] = []
            try:
                while batch := iterator.next():
                    rows.extend(batch)
            finally:
                iterator.close()
            return rows

        return self.call(run)

    def heads(self, ids: Sequence[int], fields: list[str]) -> list[dict[str, Any]]:
        """The head rows of these article ids."""
        found: list[dict[str, Any]] = []
        unique = sorted({int(i) for i in ids})
        for start in range(0, len(unique), QUERY_LIMIT):
            chunk = unique[start : start + QUERY_LIMIT]
            rows = self.request("query", self.articles, ids=chunk, output_fields=["part", *fields])
            # Continuation rows have ids of their own, which an article id never names,
            # but a head is what is asked for.
            found.extend(row for row in rows if int(row["part"]) == 0)
        return found

    def count(self, collection: str, expression: str = "") -> int:
        rows = self.request("query", collection, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0


def with_literals(template: str, params: dict[str, Any]) -> str:
    """A filter expression with its parameters written in as literals (Milvus Lite does
    not take filter parameters)."""
    return (
        template.format(**{name: literal(v) for name, v in params.items()}) if params else template
    )


def literal(value: object) -> str:
    """A value as a Milvus expression literal (numbers, strings, lists of them)."""
    if isinstance(value, bool) or value is None:
        raise TypeError(f"no Milvus literal for {value!r}")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no Milvus literal for {value!r}")


def error_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]
