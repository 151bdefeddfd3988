"""``open_engine``: a verified index and its query encoder, as one engine. The Python API, the CLI and the
app factory all open engines here."""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_limits

from codefinder.indexer.errors import UnusableIndexError
from codefinder.indexer.layout import MODEL_DIR, resolve_build_dir
from codefinder.indexer.settings import Settings
from codefinder.models.encoder import Encoder, load_encoder
from codefinder.search.engine import SearchEngine
from codefinder.search.loader import load_index


def query_encoder(settings: Settings, index: Path | None = None) -> Encoder:
    """The model that embeds queries: the ONNX export shipped inside the index (no torch import), else the
    configured weights (``encoder_model``) exported into the cache; torch (sentence-transformers) if configured."""
    build_dir = resolve_build_dir(index or settings.index)
    bundled = build_dir / MODEL_DIR if build_dir is not None else None
    return load_encoder(
        max_tokens=settings.embed_max_tokens,
        onnx_dir=bundled,
        cache_dir=settings.cache_dir,
        backend=settings.encoder_backend,
        threads=settings.encoder_threads,
        int8=settings.encoder_int8,
        model=settings.encoder_model,
    )


def open_engine(
    index: Path | str | None = None, settings: Settings | None = None, encoder: Encoder | None = None
) -> SearchEngine:
    """Open the index (``settings.index``, i.e. ``CODEFINDER_INDEX`` or ``<home>/index``, unless given),
    verify every file against its manifest, and pair it with the query encoder it was built for.
    numpy's BLAS is held to ``settings.blas_threads`` (one: concurrent searches already fill the cores)."""
    settings = settings or Settings()
    path = Path(index) if index is not None else settings.index
    if settings.blas_threads > 0:
        threadpool_limits(settings.blas_threads, user_api="blas")
    loaded = load_index(path)
    encoder = encoder or query_encoder(settings, path)
    if loaded.dimension != encoder.dimension or loaded.manifest["model"]["name"] != encoder.name:
        raise UnusableIndexError(
            f"index {loaded.build_id} was built with {loaded.manifest['model']['name']} "
            f"({loaded.dimension}-d), the encoder is {encoder.name} ({encoder.dimension}-d); rebuild it"
        )
    return SearchEngine(loaded, encoder, settings)
