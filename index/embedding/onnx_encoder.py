"""A fast query encoder: the sentence-transformers model, exported once to ONNX, run by onnxruntime.

Embedding one short query with torch's ``model.encode`` costs 8-25 ms on our two-core hosts
(more when the other core is busy), much of it framework overhead; the same graph run by
onnxruntime on one thread takes ~3.5 ms (fp32) or ~2 ms (int8 weights), tokenisation included.
The search path embeds exactly one query per request, so that difference is most of the
latency budget. One intra-op thread is the right default: a second one saves ~0.7 ms on fp32
when the machine is idle, but costs several ms (spinning thread pool) when the other core is
busy, and int8 gains nothing from it.

The export is taken from the *loaded* model (not downloaded), so the ONNX graph has exactly the
weights the torch model uses, and is cached on disk (:mod:`index.embedding.onnx_cache`), keyed
by the model, its weights and the export settings. Every time an encoder is built it embeds a
few probe sentences with both torch and onnxruntime and refuses (EmbeddingError) to return an
encoder whose vectors disagree with the torch model's.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import platform
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from index.embedding.onnx_cache import MODEL_FILE, cache_key, publish_entry, weights_digest
from index.errors import EmbeddingError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

__all__ = ["OnnxQueryEncoder"]

logger = logging.getLogger(__name__)

_OPSET: Final = 17
# Inputs the HF encoders take; whichever of these the tokenizer produces become graph inputs.
_GRAPH_INPUTS: Final = ("input_ids", "attention_mask", "token_type_ids")
# Texts are run through onnxruntime in groups of this many, sorted by length, so that one long
# passage does not make every short one in a big call pay for its padding.
_BATCH_SIZE: Final = 32
# The probe check run on every construction. fp32 differs from torch only by float rounding
# (cosine > 0.99999 measured); int8 weights cost accuracy (min 0.988 over our test sentences),
# so its floor is lower but still far above what a wrong graph or wrong pooling would give.
_PROBES: Final = (
    "Central bank raises interest rates to curb inflation",
    "Ceasefire talks stall as both sides trade accusations over the border crossing.",
    "Élections législatives : la participation atteint un niveau record.",
)
_MIN_PROBE_COSINE_FP32: Final = 0.999
_MIN_PROBE_COSINE_INT8: Final = 0.97

_POOLING_MODES: Final = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# Sentence-transformers < 5 stored the pooling mode as one boolean per mode, in this order
# (which is also the order the pooled vectors are concatenated in).
_LEGACY_POOLING_FLAGS: Final = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _TokenizerSpec:
    """What is needed to rebuild, in any thread, a tokenizer that matches the model's."""

    json: str
    max_length: int
    pad_id: int
    pad_token: str
    pad_type_id: int
    padding_side: str
    lowercase: bool


class OnnxQueryEncoder:
    """Embeds texts like ``model.encode(texts, normalize_embeddings=True)``, through onnxruntime.

    Build one with :meth:`from_sentence_transformer`. :meth:`encode` is safe to call from several
    threads at once.
    """

    dimension: int
    max_seq_length: int

    def __init__(
        self,
        session: ort.InferenceSession,
        tokenizer: _TokenizerSpec,
        pooling_modes: tuple[str, ...],
        dimension: int,
    ) -> None:
        """Internal: use :meth:`from_sentence_transformer`."""
        self._session = session
        self._input_names = frozenset(i.name for i in session.get_inputs())
        self._tokenizer_spec = tokenizer
        self._pooling_modes = pooling_modes
        self.dimension = dimension
        self.max_seq_length = tokenizer.max_length
        # HF fast tokenizers hold Rust state behind a RefCell: two threads using one instance at
        # once can fail with "Already borrowed". Each thread gets its own copy instead (a lock
        # would serialise the tokenisation of concurrent batch calls).
        self._local = threading.local()

    @classmethod
    def from_sentence_transformer(
        cls,
        model: SentenceTransformer,
        cache_dir: Path,
        *,
        model_id: str,
        quantize: bool = False,
        threads: int = 1,
    ) -> OnnxQueryEncoder:
        """Export ``model``'s transformer to ONNX in ``cache_dir`` (once) and open it.

        ``model_id`` names the model in the cache (any string; it is hashed with the weights).
        ``quantize`` uses int8 weights (dynamic quantisation): ~2x faster, slightly less exact.
        ``threads`` is onnxruntime's intra-op thread count (1 is the robust choice for one short
        query on two cores, and leaves the other core to concurrent work; see module docstring).

        Raises :class:`EmbeddingError` if the model cannot be exported, loaded, or does not
        reproduce the torch model's embeddings.
        """
        if threads < 1:
            raise EmbeddingError(f"onnx encoder: threads must be >= 1, got {threads}")
        pooling_modes = _pooling_modes(model)
        spec = _tokenizer_spec(model)
        # The ST Transformer module; typed loosely since its attributes vary across versions.
        transformer: Any = model[0]
        auto_model: torch.nn.Module = transformer.auto_model
        input_names = [str(n) for n in _GRAPH_INPUTS if n in _model_input_names(transformer)]
        if "input_ids" not in input_names or "attention_mask" not in input_names:
            raise EmbeddingError(
                f"onnx encoder: the tokenizer of {model_id!r} does not produce input_ids and "
                f"attention_mask (it produces {input_names}); cannot export it"
            )
        cache_dir = Path(cache_dir)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddingError(
                f"onnx encoder: cannot create cache folder {cache_dir}: {exc}"
            ) from exc
        weights = weights_digest(auto_model)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("._")[:60] or "model"

        def entry_for(int8: bool) -> Path:
            quantizer = _quantizer_recipe() if int8 else None
            key = cache_key(
                model_id, auto_model, weights, input_names, opset=_OPSET, quantizer=quantizer
            )
            return cache_dir / f"{slug}-{key[:16]}-{'int8' if int8 else 'fp32'}"

        entry, fp32 = entry_for(quantize), entry_for(False)

        def export() -> None:
            publish_entry(fp32, lambda tmp: _export(auto_model, input_names, tmp / MODEL_FILE))

        def build() -> None:
            had_fp32 = (fp32 / MODEL_FILE).is_file()
            if not had_fp32:
                export()
            if not quantize:
                return
            try:
                publish_entry(entry, lambda tmp: _quantize(fp32 / MODEL_FILE, tmp / MODEL_FILE))
            except EmbeddingError:
                if not had_fp32:
                    raise
                # The cached fp32 graph it quantises may be damaged: re-export it, retry once.
                shutil.rmtree(fp32, ignore_errors=True)
                export()
                publish_entry(entry, lambda tmp: _quantize(fp32 / MODEL_FILE, tmp / MODEL_FILE))

        reused = (entry / MODEL_FILE).is_file()
        if not reused:
            build()
        try:
            return cls._open_checked(model, entry, spec, pooling_modes, quantize, threads)
        except EmbeddingError as exc:
            if not reused:
                raise
            # A cached entry that no longer loads or matches (damaged file, or an export made by
            # a buggy older build of this module) is rebuilt once before giving up.
            logger.warning(
                "onnx encoder: cached export %s is unusable (%s); rebuilding", entry, exc
            )
            shutil.rmtree(entry, ignore_errors=True)
            build()
            return cls._open_checked(model, entry, spec, pooling_modes, quantize, threads)

    @classmethod
    def _open_checked(
        cls,
        model: SentenceTransformer,
        entry: Path,
        spec: _TokenizerSpec,
        pooling_modes: tuple[str, ...],
        quantize: bool,
        threads: int,
    ) -> OnnxQueryEncoder:
        """Open the session for ``entry`` and verify it against the torch model on the probes."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # One graph, run sequentially: inter-op parallelism only adds scheduling overhead here.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initialisers etc. are noise here
        try:
            session = ort.InferenceSession(
                str(entry / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own (non-public) exception classes
            raise EmbeddingError(f"onnx encoder: cannot load {entry / MODEL_FILE}: {exc}") from exc
        hidden = session.get_outputs()[0].shape[-1]
        if not isinstance(hidden, int):
            raise EmbeddingError(f"onnx encoder: {entry / MODEL_FILE} has no fixed hidden size")
        encoder = cls(session, spec, pooling_modes, hidden * len(pooling_modes))

        try:
            expected = np.asarray(
                model.encode(
                    list(_PROBES),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                ),
                dtype=np.float32,
            )
        except Exception as exc:
            raise EmbeddingError(
                f"onnx encoder: the torch model failed on probe texts: {exc}"
            ) from exc
        got = encoder.encode(_PROBES)
        if expected.shape != got.shape:
            raise EmbeddingError(
                f"onnx encoder: {entry.name} gives vectors of shape {got.shape[1:]}, the torch "
                f"model {expected.shape[1:]}"
            )
        worst = float(np.min(np.sum(expected * got, axis=1)))
        floor = _MIN_PROBE_COSINE_INT8 if quantize else _MIN_PROBE_COSINE_FP32
        if worst < floor:
            raise EmbeddingError(
                f"onnx encoder: {entry.name} does not reproduce the torch model "
                f"(cosine {worst:.4f} < {floor} on a probe sentence)"
            )
        return encoder

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
        tokenizer = self._tokenizer()
        prepared = [t.lower() for t in texts] if self._tokenizer_spec.lowercase else list(texts)
        # Longest first, like sentence-transformers: groups of similar length pad little.
        order = sorted(range(len(prepared)), key=lambda i: -len(prepared[i]))
        for start in range(0, len(order), _BATCH_SIZE):
            idx = order[start : start + _BATCH_SIZE]
            try:
                encodings = tokenizer.encode_batch([prepared[i] for i in idx])
            except Exception as exc:
                raise EmbeddingError(f"onnx encoder: tokenisation failed: {exc}") from exc
            features: dict[str, IntArray] = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            feed = {name: arr for name, arr in features.items() if name in self._input_names}
            try:
                hidden = self._session.run(None, feed)[0]
            except Exception as exc:  # onnxruntime's exception classes are not public
                raise EmbeddingError(f"onnx encoder: inference failed: {exc}") from exc
            out[idx] = _pool(
                np.asarray(hidden, dtype=np.float32),
                features["attention_mask"],
                self._pooling_modes,
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def _tokenizer(self) -> Tokenizer:
        tokenizer: Tokenizer | None = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = _build_tokenizer(self._tokenizer_spec)
            self._local.tokenizer = tokenizer
        return tokenizer


# --------------------------------------------------------------------------- model inspection


def _pooling_modes(model: SentenceTransformer) -> tuple[str, ...]:
    """The pooling the model applies, after checking the pipeline is one we reproduce exactly.

    Supported: Transformer -> Pooling [-> Normalize]. Anything else (a Dense layer, a prompt
    that is prepended by default, a non-torch backend) would make our vectors differ.
    """
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if getattr(model, "backend", "torch") != "torch":
        raise EmbeddingError(
            f"onnx encoder: the model uses the {model.backend!r} backend, not torch"
        )
    if (
        len(modules) not in (2, 3)
        or not hasattr(modules[0], "auto_model")
        or names[1] != "Pooling"
        or (len(modules) == 3 and names[2] != "Normalize")
    ):
        raise EmbeddingError(
            f"onnx encoder: unsupported model pipeline {names}; "
            "expected Transformer, Pooling and optionally Normalize"
        )
    default_prompt = getattr(model, "default_prompt_name", None)
    if default_prompt is not None and getattr(model, "prompts", {}).get(default_prompt):
        raise EmbeddingError(
            f"onnx encoder: the model prepends the default prompt {default_prompt!r}; unsupported"
        )
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    if isinstance(mode, str):
        modes: tuple[str, ...] = (mode,)
    elif isinstance(mode, (tuple, list)):
        modes = tuple(str(m) for m in mode)
    else:
        modes = tuple(m for flag, m in _LEGACY_POOLING_FLAGS if getattr(pooling, flag, False))
    unknown = [m for m in modes if m not in _POOLING_MODES]
    if not modes or unknown:
        raise EmbeddingError(f"onnx encoder: unsupported pooling mode(s) {list(modes)}")
    return modes


def _model_input_names(transformer: Any) -> list[str]:
    tokenizer = transformer.tokenizer
    names = getattr(tokenizer, "model_input_names", None)
    return [str(n) for n in names] if names else list(_GRAPH_INPUTS)


def _tokenizer_spec(model: SentenceTransformer) -> _TokenizerSpec:
    transformer: Any = model[0]
    tokenizer: Any = transformer.tokenizer
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EmbeddingError(
            "onnx encoder: the model's tokenizer is not a fast (Rust) tokenizer; unsupported"
        )
    max_length = model.max_seq_length
    if not isinstance(max_length, int) or max_length <= 0:
        raise EmbeddingError(f"onnx encoder: the model has no usable max_seq_length ({max_length})")
    pad_id = tokenizer.pad_token_id
    return _TokenizerSpec(
        json=backend.to_str(),
        max_length=max_length,
        pad_id=int(pad_id) if pad_id is not None else 0,
        pad_token=str(tokenizer.pad_token or "[PAD]"),
        pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        padding_side=str(getattr(tokenizer, "padding_side", "right")),
        # Old sentence-transformers lowercased in Python for do_lower_case models; new ones put a
        # Lowercase normaliser in the tokenizer (captured in `json`). Lowercasing twice is a no-op.
        lowercase=bool(getattr(transformer, "do_lower_case", False)),
    )


def _build_tokenizer(spec: _TokenizerSpec) -> Tokenizer:
    tokenizer = Tokenizer.from_str(spec.json)
    # tokenizer.json carries its own truncation/padding (MiniLM's says: pad and cut at 128);
    # transformers overrides them on every call, so do the same: cut at max_seq_length like
    # sentence-transformers, pad only to the longest text of the batch.
    tokenizer.enable_truncation(max_length=spec.max_length, strategy="longest_first")
    tokenizer.enable_padding(
        direction=spec.padding_side,
        pad_id=spec.pad_id,
        pad_type_id=spec.pad_type_id,
        pad_token=spec.pad_token,
    )
    return tokenizer


# --------------------------------------------------------------------------- pooling


def _pool(hidden: FloatArray, mask: IntArray, modes: tuple[str, ...]) -> FloatArray:
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


# --------------------------------------------------------------------------- cache and export


def _export(auto_model: torch.nn.Module, input_names: list[str], path: Path) -> None:
    """Export the HF transformer's ``last_hidden_state`` to ``path`` (TorchScript exporter)."""
    import torch

    # Work on a private float32 CPU copy: the export switches the attention implementation and
    # the train/eval mode, and the caller's model may be in use by other threads (or on a GPU).
    module = copy.deepcopy(auto_model).to(device="cpu", dtype=torch.float32).eval()
    set_attn = getattr(module, "set_attn_implementation", None)
    if callable(set_attn):
        # "eager" attention exports to plain MatMul/Softmax that onnxruntime fuses well; the sdpa
        # path exports extra mask-building ops and ran ~1.5 ms slower per query at 1 thread.
        with contextlib.suppress(Exception):
            set_attn("eager")

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out = self.inner(**dict(zip(input_names, inputs, strict=True)), return_dict=True)
            hidden: torch.Tensor = out.last_hidden_state
            return hidden

    # A fresh nn.Module starts in training mode, and the exporter restores the wrapper's mode
    # recursively after tracing, which would switch the inner model's dropout back on: eval() it.
    wrapper = _LastHiddenState(module).eval()
    # Sample inputs with padding, so the traced graph takes the attention-mask path.
    sample = {
        "input_ids": torch.tensor([[101, 7592, 2088, 2023, 102], [101, 7592, 102, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
        "token_type_ids": torch.zeros(2, 5, dtype=torch.long),
    }
    vocab_size = getattr(getattr(module, "config", None), "vocab_size", None)
    if isinstance(vocab_size, int):
        sample["input_ids"] = sample["input_ids"].clamp(max=vocab_size - 1)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), _quiet_export_warnings():
        torch.onnx.export(
            wrapper,
            tuple(sample[n] for n in input_names),
            str(path),
            input_names=input_names,
            output_names=["last_hidden_state"],
            dynamic_axes={**{n: axes for n in input_names}, "last_hidden_state": axes},
            opset_version=_OPSET,
            do_constant_folding=True,
            # The dynamo exporter needs onnxscript (not installed) and is slower to run; the
            # TorchScript exporter handles BERT-style encoders fine.
            dynamo=False,
        )
    if not path.is_file():
        raise EmbeddingError(f"onnx encoder: the exporter wrote nothing to {path}")


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights of ``source`` into ``target``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Measured on all-MiniLM-L6-v2, cosine to torch over 26 sentences (20 news-like, 6 in
    # non-Latin scripts), each embedded alone, min / mean:
    #   MatMul only, per-tensor scales          0.881 / 0.948
    #   MatMul only, per-channel                0.988 / 0.993   <- per-channel matters most
    #   MatMul only, per-channel, reduce_range  0.983 / 0.991
    #   all ops (+ embedding Gather), per-ch.   0.980 / 0.991
    # The embedding Gather is left in fp32: quantising it saves memory, not time, and costs
    # accuracy.
    with _quiet_export_warnings():
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=_needs_reduce_range(),
            weight_type=QuantType.QInt8,
        )


def _quantizer_recipe() -> str:
    """The quantisation recipe, including the CPU-dependent reduce_range choice, as the cache
    key records it."""
    return f"matmul-per-channel-qint8-rr{int(_needs_reduce_range())}"


def _needs_reduce_range() -> bool:
    """Whether int8 weights should use 7 bits on this CPU.

    x86 CPUs without VNNI multiply u8 activations by s8 weights with an instruction whose int16
    intermediate sums can saturate, which can wreck int8 accuracy; 7-bit weights
    (``reduce_range``) avoid that at a small cost (see above). CPUs with VNNI (or non-x86 ones)
    do not saturate, so they get full 8-bit weights. Unknown: be safe.
    """
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    flags = set(re.findall(r"\b\w+\b", " ".join(re.findall(r"^flags\s*:(.*)$", cpuinfo, re.M))))
    return not ({"avx512_vnni", "avx_vnni"} & flags)


class _DropOnnxruntimeRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


@contextlib.contextmanager
def _quiet_export_warnings() -> Iterator[None]:
    """Silence the exporters' known, harmless chatter during an export.

    The TorchScript exporter emits TracerWarnings (shape-dependent Python branches in
    transformers that do not apply to our inputs, verified by the probe check), and the
    quantiser logs "please run pre-processing" on the root logger. Only records logged from
    onnxruntime's own files are dropped, so other threads' logging is untouched.
    """
    import warnings

    root = logging.getLogger()
    drop = _DropOnnxruntimeRecords()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.addFilter(drop)
        try:
            yield
        finally:
            root.removeFilter(drop)
