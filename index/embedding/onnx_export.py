"""Export a loaded sentence-transformers model to ONNX, quantise it, and verify both once.

This is the only ONNX module that needs torch, and it runs once per model and machine: the
first start after install (or after the model or the recipe changed). It writes two cache
entries (:mod:`index.embedding.onnx_cache`): the fp32 graph and its int8 copy, each with the
model's tokenizer and a ``verified.json`` recording the pooling, the tokenizer settings and
the torch vectors of the probe sentences. An entry is published only if its vectors agree
with torch's on the probes (and int8 with fp32, cosine >= 0.98); later starts open it with
onnxruntime alone (:class:`~index.embedding.onnx_encoder.OnnxEncoder`).

The export is taken from the *loaded* model, so the graph has exactly the weights the torch
model uses.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import onnxruntime as ort

from index.config import EmbeddingConfig
from index.embedding.model_source import model_folder, plain_model_id
from index.embedding.onnx_cache import (
    FORMAT_VERSION,
    MODEL_FILE,
    TOKENIZER_FILE,
    VERIFIED_FILE,
    entry_path,
    publish_entry,
    source_signature,
)
from index.embedding.onnx_encoder import PROBES, OnnxEncoder, TokenizerSpec, probe_floor
from index.errors import EmbeddingError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

__all__ = ["FAMILIES", "export_recipe", "export_verified", "verified_entry"]

logger = logging.getLogger(__name__)

#: The vector families an export is published in.
FAMILIES: Final = ("fp32", "int8")
_OPSET: Final = 17
# Inputs the HF encoders take; whichever of these the tokenizer produces become graph inputs.
_GRAPH_INPUTS: Final = ("input_ids", "attention_mask", "token_type_ids")
#: int8 against fp32 on the probes: the agreement the int8 store promises (issue 15).
MIN_INT8_TO_FP32_COSINE: Final = 0.98
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


def export_recipe(family: str) -> dict[str, Any]:
    """What the cache key records of how an entry of `family` is made."""
    recipe: dict[str, Any] = {"opset": _OPSET, "exporter": "torchscript", "attention": "eager"}
    if family == "int8":
        recipe["quantizer"] = _quantizer_recipe()
    return recipe


def verified_entry(config: EmbeddingConfig, cache_dir: Path) -> tuple[Path | None, Path | None]:
    """The configured model's folder and its verified export's entry (None: not found)."""
    folder = model_folder(config.model)
    if folder is None:
        return None, None
    family = "int8" if config.onnx_quantize else "fp32"
    signature = source_signature(folder)
    model_id = plain_model_id(config.model)
    return folder, entry_path(cache_dir, model_id, signature, export_recipe(family), family)


def export_verified(
    model: SentenceTransformer, cache_dir: Path, *, model_id: str, signature: str
) -> dict[str, Path]:
    """Export `model` to fp32 and int8 ONNX in `cache_dir`, check both, publish both.

    `signature` is the source signature of the folder the model was loaded from (it keys
    the entries). Returns the entry of each family. Raises EmbeddingError when the model
    cannot be exported or its export does not reproduce the torch model.
    """
    pooling_modes = _pooling_modes(model)
    spec, tokenizer_json, special_tokens = _tokenizer_spec(model)
    transformer: Any = model[0]  # the ST Transformer module; attributes vary across versions
    auto_model: torch.nn.Module = transformer.auto_model
    input_names = [str(n) for n in _GRAPH_INPUTS if n in _model_input_names(transformer)]
    if "input_ids" not in input_names or "attention_mask" not in input_names:
        raise EmbeddingError(
            f"onnx encoder: the tokenizer of {model_id!r} does not produce input_ids and "
            f"attention_mask (it produces {input_names}); cannot export it"
        )
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddingError(
            f"onnx encoder: cannot create cache folder {cache_dir}: {exc}"
        ) from exc
    try:
        expected = np.asarray(
            model.encode(
                list(PROBES),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
    except Exception as exc:
        raise EmbeddingError(f"onnx encoder: the torch model failed on probe texts: {exc}") from exc
    entries = {f: entry_path(cache_dir, model_id, signature, export_recipe(f), f) for f in FAMILIES}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".tmp-export-", dir=cache_dir) as work:
        graphs = {"fp32": Path(work) / "fp32.onnx", "int8": Path(work) / "int8.onnx"}
        _export(auto_model, input_names, graphs["fp32"])
        _quantize(graphs["fp32"], graphs["int8"])
        probe_vectors: dict[str, np.ndarray] = {}
        for family in FAMILIES:
            record = {
                "format": FORMAT_VERSION,
                "family": family,
                "model_id": model_id,
                "recipe": export_recipe(family),
                "tokenizer": spec.to_json(),
                "pooling": list(pooling_modes),
                "dimension": int(expected.shape[1]),
                "special_tokens": special_tokens,
                "probe_vectors": expected.tolist(),
                "versions": {"onnxruntime": ort.__version__},
            }

            def write(tmp: Path, family: str = family, record: dict[str, Any] = record) -> None:
                shutil.copyfile(graphs[family], tmp / MODEL_FILE)
                (tmp / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
                (tmp / VERIFIED_FILE).write_text(json.dumps(record), encoding="utf-8")
                # The check that makes it "verified": vectors against torch's, just computed.
                encoder = OnnxEncoder(tmp, check=True)
                probe_vectors[family] = encoder.encode(PROBES)
                cosines = np.sum(probe_vectors[family] * expected, axis=1)
                record["probe_cosine_min"] = float(np.min(cosines))
                if family == "int8":
                    to_fp32 = float(
                        np.min(np.sum(probe_vectors["int8"] * probe_vectors["fp32"], 1))
                    )
                    if to_fp32 < MIN_INT8_TO_FP32_COSINE:
                        raise EmbeddingError(
                            f"onnx encoder: the int8 export agrees with fp32 only to cosine "
                            f"{to_fp32:.4f} on a probe sentence"
                        )
                    record["probe_cosine_to_fp32_min"] = to_fp32
                (tmp / VERIFIED_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")

            shutil.rmtree(entries[family], ignore_errors=True)  # a damaged one, if any
            publish_entry(entries[family], write)
    logger.info(
        "onnx encoder: exported and verified %s in %.1f s (probe cosine floor fp32 %s, int8 %s)",
        model_id,
        time.perf_counter() - started,
        probe_floor("fp32"),
        probe_floor("int8"),
    )
    return entries


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
    if not modes:
        raise EmbeddingError("onnx encoder: the model's pooling mode is not recognised")
    return modes


def _model_input_names(transformer: Any) -> list[str]:
    names = getattr(transformer.tokenizer, "model_input_names", None)
    return [str(n) for n in names] if names else list(_GRAPH_INPUTS)


def _tokenizer_spec(model: SentenceTransformer) -> tuple[TokenizerSpec, str, int]:
    """The tokenizer's settings, its tokenizer.json, and its special tokens per text."""
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
    spec = TokenizerSpec(
        max_length=max_length,
        pad_id=int(pad_id) if pad_id is not None else 0,
        pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        padding_side=str(getattr(tokenizer, "padding_side", "right")),
        lowercase=bool(getattr(transformer, "do_lower_case", False)),
    )
    special = len(tokenizer("", add_special_tokens=True)["input_ids"])
    return spec, str(backend.to_str()), special


# --------------------------------------------------------------------------- export


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
    try:
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
                # The dynamo exporter needs onnxscript (not installed) and is slower to run;
                # the TorchScript exporter handles BERT-style encoders fine.
                dynamo=False,
            )
    except Exception as exc:
        raise EmbeddingError(f"onnx encoder: cannot export the model: {exc}") from exc
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
    try:
        with _quiet_export_warnings():
            quantize_dynamic(
                source,
                target,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                reduce_range=_needs_reduce_range(),
                weight_type=QuantType.QInt8,
            )
    except Exception as exc:
        raise EmbeddingError(f"onnx encoder: cannot quantise the export: {exc}") from exc


def _quantizer_recipe() -> str:
    """The quantisation recipe, including the CPU-dependent reduce_range choice."""
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
