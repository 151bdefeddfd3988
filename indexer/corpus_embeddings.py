"""Embeddings cached by the sha256 of (model, text), so a quarterly rebuild embeds only what changed.

Stored as one ``cache.npz`` of two plain arrays (uint8 digests n x 32, float32 vectors n x d), written to
a temp name and renamed; loaded with ``allow_pickle=False``. A damaged cache only costs re-embedding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from codefinder.models.encoder import Encoder

ProgressFn = Callable[[int, int], None]


def text_key(model_name: str, text: str) -> bytes:
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).digest()


class CorpusEmbeddingCache:
    """A persistent map from text digest to vector, for one model."""

    def __init__(self, directory: Path, model_name: str, dimension: int) -> None:
        slug = "".join(ch if ch.isalnum() else "-" for ch in model_name)
        self.directory = directory / f"{slug}-{dimension}"
        self.model_name = model_name
        self.dimension = dimension
        self._vectors: dict[bytes, np.ndarray] = {}
        self._load()

    def _load(self) -> None:
        path = self.directory / "cache.npz"
        if not path.is_file():
            return
        try:
            with np.load(path, allow_pickle=False) as archive:
                keys, vectors = archive["keys"], archive["vectors"]
        except (OSError, ValueError, KeyError):
            return
        if (
            keys.ndim != 2
            or keys.shape[1] != 32
            or keys.shape[0] != vectors.shape[0]
            or vectors.ndim != 2
            or vectors.shape[1] != self.dimension
        ):
            return
        self._vectors = {key.tobytes(): vectors[i] for i, key in enumerate(keys)}

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(
        self, texts: list[str], encoder: Encoder, batch_size: int = 64, progress: ProgressFn | None = None
    ) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` in order, and how many had to be computed."""
        keys = [text_key(self.model_name, text) for text in texts]
        missing = sorted(
            {key: text for key, text in zip(keys, texts, strict=False) if key not in self._vectors}.items(),
            key=lambda item: len(item[1]),
        )
        done = 0
        for start in range(0, len(missing), batch_size * 4):
            chunk = missing[start : start + batch_size * 4]
            vectors = encoder.encode([text for _, text in chunk], batch_size=batch_size)
            for (key, _), vector in zip(chunk, vectors, strict=False):
                self._vectors[key] = vector
            done += len(chunk)
            if progress:
                progress(done, len(missing))
        if missing:
            self._save()
        matrix = np.stack([self._vectors[key] for key in keys]) if keys else np.zeros((0, self.dimension))
        return np.ascontiguousarray(matrix, dtype=np.float32), len(missing)

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(self._vectors), dtype=np.uint8).reshape(-1, 32)
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        temp = self.directory / f".cache.{os.getpid()}.tmp"
        with temp.open("wb") as handle:
            np.savez(handle, keys=keys, vectors=vectors)
        os.replace(temp, self.directory / "cache.npz")
