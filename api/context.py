"""What a command or the app needs, made once: the settings and how to get an encoder."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from indexer.layout import MODEL_DIR, resolve_build_dir
from indexer.settings import Settings
from models.encoder import Encoder, load_encoder
from search.engine import SearchEngine
from search.loader import load_index


def default_encoder(settings: Settings) -> Encoder:
    """ONNX from the current index (no torch import), else exported into the cache; torch if configured."""
    build_dir = resolve_build_dir(settings.index)
    bundled = build_dir / MODEL_DIR if build_dir is not None else None
    return load_encoder(
        max_tokens=settings.embed_max_tokens,
        onnx_dir=bundled,
        cache_dir=settings.cache_dir,
        backend=settings.encoder_backend,
        threads=settings.encoder_threads,
        int8=settings.encoder_int8,
    )


@dataclass
class AppContext:
    settings: Settings
    encoder_factory: Callable[[Settings], Encoder] = field(default=lambda settings: default_encoder(settings))
    _encoder: Encoder | None = None

    def build_encoder(self) -> Encoder:
        """The encoder that embeds the corpus: full precision (fp32), every core. Queries may use the
        int8 model; the corpus never does, so an index is the same whoever built it."""
        threads = self.settings.encoder_threads if "encoder_threads" in self.settings.model_fields_set else None
        settings = self.settings.model_copy(
            update={"encoder_int8": False, "encoder_threads": threads or max(1, os.cpu_count() or 1)}
        )
        return self.encoder_factory(settings)

    def encoder(self) -> Encoder:
        """Loaded on first use and kept: loading the model is the slow part of starting up."""
        if self._encoder is None:
            self._encoder = self.encoder_factory(self.settings)
        return self._encoder

    def engine(self, index: Path | None = None) -> SearchEngine:
        """A verified index with the query encoder; numpy's BLAS is held to ``blas_threads`` for searching."""
        if self.settings.blas_threads > 0:
            threadpool_limits(self.settings.blas_threads, user_api="blas")
        loaded = load_index(index or self.settings.index)
        encoder = self.encoder()
        if loaded.dimension != encoder.dimension or loaded.manifest["model"]["name"] != encoder.name:
            from indexer.errors import IndexError_

            raise IndexError_(
                f"index {loaded.build_dir} was built with {loaded.manifest['model']['name']} "
                f"({loaded.dimension}-d), the encoder is {encoder.name} ({encoder.dimension}-d); rebuild it"
            )
        return SearchEngine(loaded, encoder, self.settings)
