"""A sentence-transformers model run by onnxruntime and `tokenizers` alone (no torch).

An :class:`OnnxEncoder` opens one verified export of :mod:`index.embedding.onnx_cache` (made
by :mod:`index.embedding.onnx_export`): the graph, the model's own tokenizer and the pooling
recorded when it was checked against torch. It embeds like
``model.encode(texts, normalize_embeddings=True)``.

Texts are tokenised once, sorted by length and run in batches padded only to their own
longest text: sorted batches of news passages pad little, and padding is wasted work.
Opening an encoder re-embeds the probe sentences and compares them with the torch vectors
recorded at export time, so a damaged file is caught in ~10 ms without loading torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from index.embedding.onnx_cache import MODEL_FILE, TOKENIZER_FILE, read_verified
from index.errors import EmbeddingError

__all__ = ["PROBES", "OnnxEncoder", "TokenizerSpec", "pool", "probe_floor"]

logger = logging.getLogger(__name__)

#: The sentences every export is checked on, against torch at export time and against the
#: recorded torch vectors whenever it is opened.
PROBES: Final = (
    "Central bank raises interest rates to curb inflation",
    "Ceasefire talks stall as both sides trade accusations over the border crossing.",
    "Élections législatives : la participation atteint un niveau record.",
)
# fp32 differs from torch only by float rounding (cosine > 0.99999 measured); int8 weights
# cost accuracy (min 0.988 over our test sentences), so its floor is lower but still far above
# what a wrong graph or wrong pooling would give.
_MIN_PROBE_COSINE: Final = {"fp32": 0.999, "int8": 0.98}
_POOLING_MODES: Final = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def probe_floor(family: str) -> float:
    """The least cosine to torch an export of `family` ("fp32" or "int8") must reach."""
    return _MIN_PROBE_COSINE[family]


@dataclass(frozen=True)
class TokenizerSpec:
    """How the model's tokenizer is called, beyond its tokenizer.json."""

    max_length: int
    pad_id: int
    pad_type_id: int
    padding_side: str
    lowercase: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "pad_id": self.pad_id,
            "pad_type_id": self.pad_type_id,
            "padding_side": self.padding_side,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenizerSpec:
        return cls(
            max_length=int(data["max_length"]),
            pad_id=int(data["pad_id"]),
            pad_type_id=int(data["pad_type_id"]),
            padding_side=str(data["padding_side"]),
            lowercase=bool(data["lowercase"]),
        )


class OnnxEncoder:
    """One verified export, opened with onnxruntime. Safe to call from several threads."""

    def __init__(
        self,
        entry: Path,
        *,
        threads: int = 1,
        batch_size: int = 32,
        device: str = "cpu",
        check: bool = True,
        parallel_batches: int = 1,
        full_graph_optimisation: bool = True,
    ) -> None:
        """Open the verified export in folder `entry`.

        `threads` is onnxruntime's intra-op thread count: 1 for the single query of a search
        (robust when the other core is busy), every core for batches of passages. `check`
        re-embeds the probes and compares them with the torch vectors recorded at export.
        `parallel_batches` runs that many batches side by side; `full_graph_optimisation`
        off opens the session sooner (basic graph optimisations only).
        Raises EmbeddingError when the entry is not a verified export, does not load, or no
        longer reproduces its recorded vectors.
        """
        if threads < 1 or parallel_batches < 1:
            raise EmbeddingError(
                f"onnx encoder: threads and parallel_batches must be >= 1, got {threads} "
                f"and {parallel_batches}"
            )
        self._parallel_batches = parallel_batches
        record = read_verified(entry)
        if record is None:
            raise EmbeddingError(f"onnx encoder: {entry} holds no verified export")
        try:
            self.family = str(record["family"])
            self.spec = TokenizerSpec.from_json(record["tokenizer"])
            self.pooling_modes = tuple(str(m) for m in record["pooling"])
            self.dimension = int(record["dimension"])
            self.special_tokens = int(record["special_tokens"])
            probe_vectors = np.asarray(record["probe_vectors"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"onnx encoder: {entry} has a damaged record: {exc}") from exc
        if not self.pooling_modes or set(self.pooling_modes) - set(_POOLING_MODES):
            raise EmbeddingError(f"onnx encoder: unsupported pooling {self.pooling_modes}")
        self.entry = entry
        self.max_seq_length = self.spec.max_length
        self._batch_size = batch_size
        try:
            self._tokenizer_json = (entry / TOKENIZER_FILE).read_text(encoding="utf-8")
            Tokenizer.from_str(self._tokenizer_json)
        except Exception as exc:  # tokenizers raises plain Exceptions
            raise EmbeddingError(
                f"onnx encoder: cannot read {entry / TOKENIZER_FILE}: {exc}"
            ) from exc
        self._session = _open_session(entry / MODEL_FILE, threads, device, full_graph_optimisation)
        self._input_names = frozenset(i.name for i in self._session.get_inputs())
        # HF fast tokenizers hold Rust state behind a RefCell: two threads using one instance
        # at once can fail with "Already borrowed". Each thread gets its own copies.
        self._local = threading.local()
        if check:
            got = self.encode(PROBES)
            if got.shape != probe_vectors.shape:
                raise EmbeddingError(
                    f"onnx encoder: {entry.name} gives vectors of shape {got.shape[1:]}, "
                    f"torch gave {probe_vectors.shape[1:]}"
                )
            worst = float(np.min(np.sum(got * probe_vectors, axis=1)))
            if worst < probe_floor(self.family):
                raise EmbeddingError(
                    f"onnx encoder: {entry.name} no longer reproduces the torch model "
                    f"(cosine {worst:.4f} on a probe sentence)"
                )

    # -- tokenisation ----------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without special tokens and without truncation."""
        if not texts:
            return []
        encodings = self._plain().encode_batch(self._prepared(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text` (no special tokens)."""
        encoding = self._plain().encode(self._prepared([text])[0], add_special_tokens=False)
        return [(int(a), int(b)) for a, b in encoding.offsets]

    # -- embedding -------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts``: float32 array of shape ``(len(texts), dimension)``, unit rows.

        Texts longer than :attr:`max_seq_length` word pieces are truncated, as
        sentence-transformers does.
        """
        if isinstance(texts, str):
            # A bare string is a Sequence[str] of characters: almost certainly a caller bug.
            raise TypeError("encode() takes a sequence of texts, not a single str")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        try:
            encodings = self._truncating().encode_batch(self._prepared(texts))
        except Exception as exc:
            raise EmbeddingError(f"onnx encoder: tokenisation failed: {exc}") from exc
        # Shortest first: each batch is padded to its own longest text only.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        batches = [
            order[start : start + self._batch_size]
            for start in range(0, len(order), self._batch_size)
        ]
        if self._parallel_batches > 1 and len(batches) > 1:
            # Whole batches side by side, one per core, each on one intra-op thread:
            # onnxruntime releases the GIL while it runs, and a batch per core beats one
            # batch split across cores (no per-operator synchronisation). Each batch
            # writes its own rows of `out`.
            with ThreadPoolExecutor(self._parallel_batches) as pool_:
                list(pool_.map(lambda rows: self._encode_batch(encodings, rows, out), batches))
        else:
            for rows in batches:
                self._encode_batch(encodings, rows, out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def _encode_batch(
        self, encodings: Sequence[Encoding], rows: list[int], out: FloatArray
    ) -> None:
        """Embed the texts at `rows` of `encodings` into the same rows of `out`."""
        left = self.spec.padding_side == "left"
        width = max(len(encodings[i].ids) for i in rows)
        ids = np.full((len(rows), width), self.spec.pad_id, dtype=np.int64)
        types = np.full((len(rows), width), self.spec.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            e = encodings[i]
            n = len(e.ids)
            cols = slice(width - n, width) if left else slice(0, n)
            ids[r, cols] = e.ids
            types[r, cols] = e.type_ids
            mask[r, cols] = 1
        features = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed = {name: arr for name, arr in features.items() if name in self._input_names}
        try:
            hidden = self._session.run(None, feed)[0]
        except Exception as exc:  # onnxruntime's exception classes are not public
            raise EmbeddingError(f"onnx encoder: inference failed: {exc}") from exc
        out[rows] = pool(np.asarray(hidden, dtype=np.float32), mask, self.pooling_modes)

    # -- private -----------------------------------------------------------------------

    def _prepared(self, texts: Sequence[str]) -> list[str]:
        # Old sentence-transformers lowercased in Python for do_lower_case models; new ones
        # put a Lowercase normaliser in tokenizer.json. Lowercasing twice is a no-op.
        return [t.lower() for t in texts] if self.spec.lowercase else list(texts)

    def _truncating(self) -> Tokenizer:
        tokenizer: Tokenizer | None = getattr(self._local, "truncating", None)
        if tokenizer is None:
            tokenizer = Tokenizer.from_str(self._tokenizer_json)
            # tokenizer.json carries its own truncation/padding (MiniLM's: pad and cut at
            # 128); transformers overrides them on every call, and so do we: cut at
            # max_seq_length like sentence-transformers, pad ourselves (above).
            tokenizer.enable_truncation(max_length=self.spec.max_length, strategy="longest_first")
            tokenizer.no_padding()
            self._local.truncating = tokenizer
        return tokenizer

    def _plain(self) -> Tokenizer:
        tokenizer: Tokenizer | None = getattr(self._local, "plain", None)
        if tokenizer is None:
            tokenizer = Tokenizer.from_str(self._tokenizer_json)
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._local.plain = tokenizer
        return tokenizer


def _open_session(
    path: Path, threads: int, device: str, full_graph_optimisation: bool
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # One graph, run sequentially: inter-op parallelism only adds scheduling overhead here.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Full optimisation (fusions, layout) pays off over batches of passages; for the one
    # query of a search the basic level runs as fast and opens ~60 ms sooner (a cold ask).
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if full_graph_optimisation
        else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    )
    options.log_severity_level = 3  # warnings about unused initialisers etc. are noise here
    providers = ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        else:
            logger.warning(
                "[embedding] device = 'cuda', but onnxruntime has no CUDA provider "
                "(install onnxruntime-gpu): embedding on the CPU"
            )
    if full_graph_optimisation or len(providers) > 1:
        return _load(path, options, providers)
    return _open_query_session(path, options, providers)


def basic_graph_path(path: Path) -> Path:
    """Where the basic-optimised copy of the export `path` is kept: named by the
    onnxruntime version (another may optimise differently) and by the export file's size
    and time, so that a replaced or damaged export is never run from an older copy."""
    stat = path.stat()
    return path.with_name(
        f"{path.stem}.basic-ort{ort.__version__}-{stat.st_size}-{stat.st_mtime_ns}{path.suffix}"
    )


def _open_query_session(
    path: Path, options: ort.SessionOptions, providers: list[str]
) -> ort.InferenceSession:
    """The query session, whose graph is optimised once and saved beside the export: later
    starts load the saved graph as it is (~90 ms sooner, the same graph run). The probe
    check of every opening runs on what was loaded, so a bad copy is still caught."""
    try:
        saved = basic_graph_path(path)
    except OSError:  # no export file: let onnxruntime say so
        return _load(path, options, providers)
    if saved.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(saved), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own (non-public) exception classes
            logger.warning("onnx encoder: %s does not load (%s); optimising again", saved, exc)
            saved.unlink(missing_ok=True)
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    if not os.access(path.parent, os.W_OK):
        return _load(path, options, providers)  # a read-only cache: optimised every start
    # Written under a name of its own and renamed, so a reader never sees half a file.
    partial = saved.with_name(f".{saved.name}.{os.getpid()}.{threading.get_ident()}.partial")
    options.optimized_model_filepath = str(partial)
    try:
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception:  # the copy may be what failed (a full disk): open without it
            options.optimized_model_filepath = ""
            return _load(path, options, providers)
        with contextlib.suppress(OSError):  # not kept: optimised again next start
            os.replace(partial, saved)
            for stale in path.parent.glob(f"{path.stem}.basic-*{path.suffix}"):
                if stale != saved:  # a copy of an export since replaced
                    stale.unlink(missing_ok=True)
        return session
    finally:
        partial.unlink(missing_ok=True)


def _load(path: Path, options: ort.SessionOptions, providers: list[str]) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own (non-public) exception classes
        raise EmbeddingError(f"onnx encoder: cannot load {path}: {exc}") from exc


def pool(hidden: FloatArray, mask: IntArray, modes: tuple[str, ...]) -> FloatArray:
    """Pool token vectors ``(B, T, D)`` to ``(B, D * len(modes))`` like ST's Pooling module."""
    maskf = mask.astype(np.float32)[:, :, None]
    lengths = np.maximum(maskf.sum(axis=1), 1e-9)
    rows = np.arange(hidden.shape[0])
    parts: list[FloatArray] = []
    for mode in modes:
        if mode == "cls":
            # First real token (argmax of the mask), so left padding is handled too.
            parts.append(hidden[rows, np.argmax(mask, axis=1)])
        elif mode == "max":
            parts.append(np.where(maskf > 0, hidden, -np.inf).max(axis=1).astype(np.float32))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = (hidden * maskf).sum(axis=1)
            parts.append(total / (lengths if mode == "mean" else np.sqrt(lengths)))
        elif mode == "weightedmean":
            # Position weights 1..T counted from the first real token, as sentence-transformers.
            first = np.argmax(mask, axis=1)[:, None, None]
            weights = np.arange(1, hidden.shape[1] + 1, dtype=np.float32)[None, :, None] - first
            weighted = maskf * weights
            parts.append((hidden * weighted).sum(axis=1) / np.maximum(weighted.sum(axis=1), 1e-9))
        else:  # lasttoken: the last real token
            last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
            parts.append(hidden[rows, last])
    pooled = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    return pooled.astype(np.float32, copy=False)
