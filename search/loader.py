"""Open a published index and check it against its manifest before anything is served from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from whoosh import index as whoosh_index

from indexer import layout
from indexer.errors import IndexError_
from indexer.knowledge import Knowledge, load_snapshot
from indexer.manifest import FORMAT_NAME, FORMAT_VERSION, file_digest, read_manifest
from indexer.records import CodeRecord


@dataclass
class LoadedIndex:
    """Everything a search needs, opened once and shared read-only between requests."""

    build_dir: Path
    manifest: dict[str, Any]
    records: list[CodeRecord]
    row_of_code: dict[str, int]
    sorted_codes: list[str]
    vectors: np.ndarray
    faiss_index: Any
    keyword_index: Any
    knowledge: Knowledge | None = None
    derived: dict[str, Any] = field(default_factory=dict, repr=False)  # read-once views (keyword postings)

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])


def _fail(build_dir: Path, what: str) -> IndexError_:
    return IndexError_(f"index {build_dir}: {what}")


def verify_files(build_dir: Path, manifest: dict[str, Any]) -> None:
    """Every listed file exists with its size and sha256; no file is missing from the list."""
    listed: dict[str, dict[str, Any]] = manifest.get("files") or {}
    for relative, facts in listed.items():
        path = build_dir / relative
        if not path.is_file():
            raise _fail(build_dir, f"{relative} is missing")
        if path.stat().st_size != facts["bytes"]:
            raise _fail(build_dir, f"{relative} is {path.stat().st_size} bytes, manifest says {facts['bytes']}")
        if file_digest(path) != facts["sha256"]:
            raise _fail(build_dir, f"{relative} does not match its sha256 in the manifest")
    for required in (layout.RECORDS, layout.VECTORS, layout.FAISS_INDEX):
        if required not in listed:
            raise _fail(build_dir, f"manifest does not list {required}")


def load_index(index: Path, expected_dimension: int | None = None) -> LoadedIndex:
    """Load and verify; raises IndexError_ with a message naming what failed."""
    build_dir = layout.resolve_build_dir(index)
    if build_dir is None:
        raise IndexError_(f"no index at {index}; build one with: codefinder build --index {index}")
    try:
        manifest = read_manifest(build_dir)
    except (OSError, json.JSONDecodeError) as error:
        raise _fail(build_dir, f"manifest.json unreadable ({error})") from error
    if manifest.get("format") != FORMAT_NAME or manifest.get("format_version") != FORMAT_VERSION:
        raise _fail(
            build_dir,
            f"format {manifest.get('format')} v{manifest.get('format_version')}, this codefinder reads "
            f"{FORMAT_NAME} v{FORMAT_VERSION}; rebuild the index",
        )
    verify_files(build_dir, manifest)

    with (build_dir / layout.RECORDS).open(encoding="utf-8") as handle:
        records = [CodeRecord.from_dict(json.loads(line)) for line in handle if line.strip()]
    vectors = np.load(build_dir / layout.VECTORS, allow_pickle=False, mmap_mode=None)
    flat = faiss.read_index(str(build_dir / layout.FAISS_INDEX))
    keyword = whoosh_index.open_dir(str(build_dir / layout.KEYWORD_DIR))
    with keyword.searcher() as searcher:
        keyword_docs = searcher.doc_count_all()

    expected = manifest["counts"]["records"]
    counts = {
        "records.jsonl": len(records),
        "keyword index": keyword_docs,
        "vectors.npy": int(vectors.shape[0]),
        "vectors.faiss": int(flat.ntotal),
    }
    for name, count in counts.items():
        if count != expected:
            raise _fail(build_dir, f"{name} holds {count} entries, manifest says {expected}")
    dimension = int(manifest["model"]["dimension"])
    if vectors.ndim != 2 or vectors.shape[1] != dimension or flat.d != dimension:
        raise _fail(build_dir, f"vector dimension {vectors.shape[-1]}/{flat.d} != manifest {dimension}")
    if expected_dimension is not None and dimension != expected_dimension:
        raise _fail(build_dir, f"built with {dimension}-d vectors but the encoder gives {expected_dimension}-d")

    row_of_code = {record.code: row for row, record in enumerate(records)}
    return LoadedIndex(
        build_dir=build_dir,
        manifest=manifest,
        records=records,
        row_of_code=row_of_code,
        sorted_codes=sorted(row_of_code),
        vectors=vectors,
        faiss_index=flat,
        keyword_index=keyword,
        knowledge=load_snapshot(build_dir / layout.KNOWLEDGE) if (build_dir / layout.KNOWLEDGE).is_file() else None,
    )
