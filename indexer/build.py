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
from codefinder.indexer.changes import Release, save_releases
from codefinder.indexer.corpus_embeddings import CorpusEmbeddingCache
from codefinder.indexer.cpt_files import read_cpt_directory
from codefinder.indexer.currency import DatedList, apply_currency, listed_keys
from codefinder.indexer.errors import SourceError
from codefinder.indexer.facets import record_facets, save_facets, summarize
from codefinder.indexer.freshness import current_build_if_fresh, inputs_digest
from codefinder.indexer.history import InUseList, apply_history
from codefinder.indexer.keyword_index import POSTINGS_FILE, write_postings
from codefinder.indexer.knowledge import BrandTagger, knowledge_files, load_knowledge, save_snapshot
from codefinder.indexer.learned_shorthand import learn_shorthand, tokenizer_words
from codefinder.indexer.manifest import file_digest, write_manifest
from codefinder.indexer.merge import merge_sources
from codefinder.indexer.records import STATUSES, CodeRecord
from codefinder.indexer.releases import RELEASE_SHAPES, has_dates, plan_sources, release_date
from codefinder.indexer.settings import Settings
from codefinder.indexer.sources import SourceResult, read_source
from codefinder.indexer.text import embedding_text
from codefinder.models.encoder import Encoder, load_encoder
from codefinder.models.onnx_encoder import TOKENIZER_FILE, copy_model

Progress = Callable[[str, int, int], None]


@dataclass
class BuildResult:
    build_dir: Path
    manifest: dict[str, Any]
    embedded: int
    seconds: float
    # True when the current index was already built from exactly these inputs and nothing was written
    unchanged: bool = False


def read_all(paths: list[Path], option: str = "--source") -> list[SourceResult]:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SourceError(missing[0], f"no such file (set --data-dir or CODEFINDER_DATA_DIR, or pass {option})")
    return [read_source(path) for path in paths]


def file_of(result: SourceResult) -> Path:
    """The file on disk a result was read from: a zip member (``release.zip:member.txt``) names its zip."""
    display = result.path
    while not Path(display).is_file() and ":" in display:
        display = display.rsplit(":", 1)[0]
    return Path(display)


def source_entry(path: Path, result: SourceResult) -> dict[str, Any]:
    """A source file as the manifest names it: by file name and sha256 (no absolute paths: an index is
    copied between machines, and /version shows this), with its shape, role and release date."""
    day = release_date(result.path, result.records)
    return {
        "name": Path(result.path).name,
        "sha256": file_digest(path),
        "shape": result.shape,
        "role": result.role,
        "release_date": day.isoformat() if day else None,
        "records": len(result.records),
    }


def count_records(records: list[CodeRecord], today: dt.date) -> dict[str, Any]:
    statuses = Counter(r.status_on(today) for r in records)
    return {
        "records": len(records),
        "by_system": dict(Counter(r.system for r in records)),
        "by_kind": dict(Counter(r.kind for r in records)),
        "by_level": dict(Counter(r.level for r in records)),
        "by_section": dict(sorted(Counter(r.section for r in records if r.section).items())),
        "terminated": statuses["terminated"],
        "by_status": {status: statuses[status] for status in STATUSES},
        "with_synonyms": sum(1 for r in records if r.synonyms),
        "with_knowledge_terms": sum(1 for r in records if r.knowledge_terms),
    }


# Lists whose codes are all in use on their date (a code file of unknown make, like the web list, may keep
# dead codes, so it is no such evidence).
IN_USE_SHAPES = ("opps-addendum-b", "asp-crosswalk", "hcpcs-noc-workbook", "pfs-rvu-fixed-width", "pfs-rvu-csv")


def dated_lists(results: list[SourceResult], sections: str) -> list[DatedList]:
    """The Level II lists among the sources, each with its release date: a release or the web list lists
    every section; Addendum B the given sections (checked on the data); the other in-use lists some codes.
    An in-use list without a date (a renamed Addendum B) counts as current: it lists codes in use today,
    but judges no section. CPT files, and other files without a date, are no evidence here."""
    lists = []
    for result in results:
        if not _level_two_codes(result):
            continue
        day = release_date(result.path, result.records)
        name = Path(result.path).name
        if day is None:
            if result.shape in IN_USE_SHAPES:
                lists.append(DatedList(name, dt.date.max, _in_use_keys(result)))
        elif result.shape in RELEASE_SHAPES:
            lists.append(DatedList(name, day, listed_keys(result.records), complete=True))
        elif result.shape == "opps-addendum-b":
            lists.append(DatedList(name, day, _in_use_keys(result), covers=frozenset(sections)))
        elif result.shape in IN_USE_SHAPES:
            lists.append(DatedList(name, day, _in_use_keys(result)))
    return lists


def in_use_lists(lists: list[DatedList]) -> list[InUseList]:
    """The lists whose every code is in use on their date: not the releases (the web list keeps dead codes)."""
    return [InUseList(item.name, item.date, item.keys) for item in lists if not item.complete]


def _level_two_codes(result: SourceResult) -> bool:
    return result.role == "codes" and any(r.system == "HCPCS" for r in result.records)


def _in_use_keys(result: SourceResult) -> frozenset[tuple[str, str]]:
    """The codes a list names as in use: not those it marks deleted (an RVU status D, an Addendum B SI D)."""
    keep = (r for r in result.records if not r.termination_date)
    return listed_keys(keep, drop_discontinued=result.shape == "opps-addendum-b")


def release_tables(results: list[SourceResult]) -> list[Release]:
    """Every HCPCS release read (current and history), for ``codefinder changes``; oldest first."""
    tables = [
        Release.from_records(Path(r.path).name, release_date(r.path, r.records), r.records)
        for r in results
        if r.shape in RELEASE_SHAPES
    ]
    return sorted(tables, key=lambda release: (release.date or dt.date.min, release.name))


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
    force: bool = True,
) -> BuildResult:
    """Build and publish one index; the previous build keeps serving until the switch.

    ``settings`` default to the environment's (``Settings()``), ``encoder`` to ``corpus_encoder``.
    ``history`` (older releases read for code dates) defaults to the settings' history files when the
    sources are the defaults too, and to none when the sources are given. With ``force=False`` a current
    index built from the same inputs (``indexer.freshness``) is kept as it is and nothing is written."""
    started = time.perf_counter()
    settings = settings or Settings()
    encoder = encoder or corpus_encoder(settings)
    report = progress or (lambda stage, done, total: None)
    plan = plan_sources(settings, sources, history)
    root = index_root or settings.index
    for path in [*plan.sources, *plan.history]:
        if not path.is_file():
            read_all([path], "--source" if path in plan.sources else "--history")  # the one-line "no such file" error
    digest = inputs_digest(
        settings,
        encoder.name,
        encoder.dimension,
        [*plan.sources, *plan.cpt.candidates],
        plan.history,
        knowledge_files(settings.knowledge_dir),
    )
    if not force and (fresh := current_build_if_fresh(root, digest)) is not None:
        build_dir, manifest = fresh
        return BuildResult(build_dir, manifest, 0, time.perf_counter() - started, unchanged=True)
    results = read_all(plan.sources)
    for i, result in enumerate(results, start=1):
        report(f"read {Path(result.path).name}", i, len(results))
    cpt = read_cpt_directory(plan.cpt) if not sources else plan.cpt
    results += cpt.used
    merged = merge_sources(
        [(Path(result.path).name, result.records) for result in results],
        roles={Path(result.path).name: result.role for result in results},
    )
    records = merged.records
    if not records:
        raise SourceError(str(plan.sources[0]), "the sources hold no codes")
    history_results = read_all(plan.history, "--history")
    lists = dated_lists([*results, *history_results], settings.current_list_sections)
    in_use = in_use_lists(lists)
    dated_releases = [result for result in results if result.shape in RELEASE_SHAPES and has_dates(result)]
    authoritative = frozenset(key for result in dated_releases for key in listed_keys(result.records))
    history_report = apply_history(records, [result.records for result in history_results], in_use, authoritative)
    knowledge = load_knowledge(settings.knowledge_dir)
    currency = apply_currency(
        records,
        lists,
        settings.current_list_sections,
        settings.current_list_min_coverage,
        knowledge.brand_to_generics,
    )
    # the words CMS abbreviates in its short descriptors, learned beside the curated tables; English words
    # (the query model's vocabulary) are never taken for abbreviations
    model_dir = getattr(encoder, "model_dir", None)
    english = tokenizer_words(Path(model_dir) / TOKENIZER_FILE) if model_dir is not None else frozenset()
    knowledge.learned_shorthand = learn_shorthand(records, english, knowledge.curated_terms)
    tagger = BrandTagger(knowledge, records)
    for record in records:
        record.knowledge_terms = tagger.brands(record)
    facets = record_facets(records, knowledge.unit_canonical)

    temp_dir = layout.new_temp_dir(root)
    try:
        with (temp_dir / layout.RECORDS).open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record.to_json() + "\n")
        save_snapshot(knowledge, temp_dir / layout.KNOWLEDGE)
        save_releases(temp_dir / layout.RELEASES, release_tables([*results, *history_results]))
        save_facets(facets, temp_dir / layout.FACETS)
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
        if model_dir is not None:  # the ONNX model travels with the index it embedded, for serving
            copy_model(Path(model_dir), temp_dir / layout.MODEL_DIR)
        flat = faiss.IndexFlatIP(encoder.dimension)
        flat.add(vectors)
        faiss.write_index(flat, str(temp_dir / layout.FAISS_INDEX))

        now = dt.datetime.now(dt.UTC)
        digests = "".join(file_digest(file_of(result)) for result in [*results, *history_results])
        content_hash = hashlib.sha256(digests.encode()).hexdigest()[:8]
        build_id = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{content_hash}"
        manifest = write_manifest(
            temp_dir,
            {
                "build_id": build_id,
                "built_at": now.isoformat(timespec="seconds"),
                "sources": [
                    source_entry(file_of(result), result)
                    | {"skipped": result.skipped, "skipped_examples": result.skipped_examples}
                    for result in results
                ],
                "plan": plan.to_manifest(),
                "unmatched_by_source": dict(merged.unmatched),
                "history": {
                    "sources": [source_entry(file_of(result), result) for result in history_results],
                    "rule": "dates only (added, effective, terminated, action) from the newest release listing "
                    "the code, into empty fields; not for codes a current full release dates; a termination a "
                    "later in-use list contradicts is not applied",
                    "filled": history_report.filled,
                    "terminations_not_applied_in_use": history_report.kept_in_use,
                    "codes_not_in_sources": history_report.unknown_codes,
                },
                "currency": currency.to_manifest(),
                "knowledge": [
                    {"name": path.name, "sha256": file_digest(path)} for path in knowledge_files(settings.knowledge_dir)
                ],
                "learned_shorthand": len(knowledge.learned_shorthand),
                "merge_rule": "first source to give a field a value keeps it; later sources fill gaps and add synonyms",
                "merge_conflicts": dict(merged.conflicts),
                "counts": count_records(records, now.date()),
                "facets": summarize(facets),
                "model": model_entry(encoder, settings.embed_max_tokens),
                "embedded_this_build": embedded,
                "inputs_digest": digest,
            },
        )
        final = layout.publish(temp_dir, root, build_id, keep=settings.keep_builds)
    except BaseException:
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return BuildResult(build_dir=final, manifest=manifest, embedded=embedded, seconds=time.perf_counter() - started)
