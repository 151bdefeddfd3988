"""``codefinder build``: sources -> merged records -> keyword index + vectors + manifest, published atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from codefinder.indexer import layout
from codefinder.indexer.corpus_embeddings import CorpusEmbeddingCache
from codefinder.indexer.errors import SourceError
from codefinder.indexer.history import apply_history
from codefinder.indexer.keyword_index import POSTINGS_FILE, write_postings
from codefinder.indexer.knowledge import BrandTagger, knowledge_files, load_knowledge, save_snapshot
from codefinder.indexer.manifest import file_digest, write_manifest
from codefinder.indexer.merge import merge_sources
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.settings import Settings
from codefinder.indexer.sources import SourceResult, read_source
from codefinder.indexer.text import embedding_text
from codefinder.models.encoder import Encoder, load_encoder

Progress = Callable[[str, int, int], None]


@dataclass
class BuildResult:
    build_dir: Path
    manifest: dict[str, Any]
    embedded: int
    seconds: float


def default_sources(settings: Settings) -> list[Path]:
    return [settings.data_dir / relative for relative in settings.default_sources]


def default_history(settings: Settings) -> list[Path]:
    return [settings.data_dir / relative for relative in settings.history_sources]


def read_all(paths: list[Path], option: str = "--source") -> list[SourceResult]:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SourceError(missing[0], f"no such file (set --data-dir or CODEFINDER_DATA_DIR, or pass {option})")
    return [read_source(path) for path in paths]


def source_entry(path: Path, result: SourceResult) -> dict[str, Any]:
    """A source file as the manifest names it: by file name and sha256 (no absolute paths: an index is
    copied between machines, and /version shows this)."""
    return {
        "name": Path(result.path).name,
        "sha256": file_digest(path),
        "shape": result.shape,
        "records": len(result.records),
    }


def count_records(records: list[CodeRecord], today: dt.date) -> dict[str, Any]:
    return {
        "records": len(records),
        "by_system": dict(Counter(r.system for r in records)),
        "by_kind": dict(Counter(r.kind for r in records)),
        "by_level": dict(Counter(r.level for r in records)),
        "by_section": dict(sorted(Counter(r.section for r in records if r.section).items())),
        "terminated": sum(1 for r in records if r.status_on(today) == "terminated"),
        "with_synonyms": sum(1 for r in records if r.synonyms),
        "with_knowledge_terms": sum(1 for r in records if r.knowledge_terms),
    }


def corpus_encoder(settings: Settings) -> Encoder:
    """The encoder that embeds the corpus: full precision (fp32) on every core. Queries may use the int8
    model; the corpus never does, so an index is the same whoever built it."""
    threads = settings.encoder_threads if "encoder_threads" in settings.model_fields_set else os.cpu_count()
    return load_encoder(
        max_tokens=settings.embed_max_tokens,
        cache_dir=settings.cache_dir,
        backend=settings.encoder_backend,
        threads=max(1, threads or 1),
        int8=False,
        model=settings.encoder_model,
    )


def model_entry(encoder: Encoder, max_tokens: int) -> dict[str, Any]:
    """The manifest's model: its name (which says which weights), and their sha256 when the encoder knows it."""
    entry: dict[str, Any] = {"name": encoder.name, "dimension": encoder.dimension, "normalized": True}
    entry["max_tokens"] = max_tokens
    digest = getattr(encoder, "weights_sha256", None)
    if digest:
        entry["weights_sha256"] = digest
    return entry


def build_index(
    settings: Settings | None = None,
    encoder: Encoder | None = None,
    sources: list[Path] | None = None,
    index_root: Path | None = None,
    progress: Progress | None = None,
    history: list[Path] | None = None,
) -> BuildResult:
    """Build and publish one index; the previous build keeps serving until the switch.

    ``settings`` default to the environment's (``Settings()``), ``encoder`` to ``corpus_encoder``.
    ``history`` (older releases read for code dates) defaults to the settings' history files when the
    sources are the defaults too, and to none when the sources are given."""
    started = time.perf_counter()
    settings = settings or Settings()
    encoder = encoder or corpus_encoder(settings)
    report = progress or (lambda stage, done, total: None)
    paths = sources or default_sources(settings)
    history_paths = history if history is not None else ([] if sources else default_history(settings))
    root = index_root or settings.index
    results = read_all(paths)
    for i, result in enumerate(results, start=1):
        report(f"read {Path(result.path).name}", i, len(results))
    merged = merge_sources([(Path(result.path).name, result.records) for result in results])
    records = merged.records
    if not records:
        raise SourceError(str(paths[0]), "the sources hold no codes")
    history_results = read_all(history_paths, "--history")
    history_report = apply_history(records, [result.records for result in history_results])
    knowledge = load_knowledge(settings.knowledge_dir)
    tagger = BrandTagger(knowledge, records)
    for record in records:
        record.knowledge_terms = tagger.brands(record)

    temp_dir = layout.new_temp_dir(root)
    try:
        with (temp_dir / layout.RECORDS).open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record.to_json() + "\n")
        save_snapshot(knowledge, temp_dir / layout.KNOWLEDGE)
        report("keyword index", 0, 1)
        write_postings(records, temp_dir / POSTINGS_FILE)
        report("keyword index", 1, 1)

        # cached per model *variant*: int8 vectors must never stand in for full-precision ones
        variant = getattr(encoder, "variant", "")
        cache_name = f"{encoder.name}-{variant}" if variant and variant != "fp32" else encoder.name
        cache = CorpusEmbeddingCache(settings.cache_dir / "embeddings", cache_name, encoder.dimension)
        texts = [embedding_text(record) for record in records]
        vectors, embedded = cache.embed(
            texts,
            encoder,
            batch_size=settings.embed_batch_size,
            progress=lambda done, total: report("embedding", done, total),
        )
        with (temp_dir / layout.VECTORS).open("wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        model_dir = getattr(encoder, "model_dir", None)
        if model_dir is not None:  # the ONNX model travels with the index it embedded, for serving
            from codefinder.models.onnx_encoder import copy_model

            copy_model(Path(model_dir), temp_dir / layout.MODEL_DIR)
        flat = faiss.IndexFlatIP(encoder.dimension)
        flat.add(vectors)
        faiss.write_index(flat, str(temp_dir / layout.FAISS_INDEX))

        now = dt.datetime.now(dt.UTC)
        digests = "".join(file_digest(p) for p in [*paths, *history_paths])
        content_hash = hashlib.sha256(digests.encode()).hexdigest()[:8]
        build_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{content_hash}"
        manifest = write_manifest(
            temp_dir,
            {
                "build_id": build_id,
                "built_at": now.isoformat(timespec="seconds"),
                "sources": [
                    source_entry(path, result)
                    | {"skipped": result.skipped, "skipped_examples": result.skipped_examples}
                    for path, result in zip(paths, results, strict=False)
                ],
                "history": {
                    "sources": [
                        source_entry(path, result) for path, result in zip(history_paths, history_results, strict=True)
                    ],
                    "rule": "dates only (added, effective, terminated, action), newest first, into empty fields",
                    "filled": history_report.filled,
                    "codes_not_in_sources": history_report.unknown_codes,
                },
                "knowledge": [
                    {"name": path.name, "sha256": file_digest(path)} for path in knowledge_files(settings.knowledge_dir)
                ],
                "merge_rule": "first source to give a field a value keeps it; later sources fill gaps and add synonyms",
                "merge_conflicts": dict(merged.conflicts),
                "counts": count_records(records, now.date()),
                "model": model_entry(encoder, settings.embed_max_tokens),
                "embedded_this_build": embedded,
            },
        )
        final = layout.publish(temp_dir, root, build_id, keep=settings.keep_builds)
    except BaseException:
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return BuildResult(build_dir=final, manifest=manifest, embedded=embedded, seconds=time.perf_counter() - started)
