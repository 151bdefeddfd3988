"""Open a published index and check it against its manifest before anything is served from it.

Every failed check raises ``IndexIntegrityError`` naming the file and the check, so a flipped byte, a
truncated or deleted file, an old format, or files mixed in from another build never get served.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import faiss
import numpy as np

from codefinder.indexer import layout
from codefinder.indexer.changes import Release, load_releases
from codefinder.indexer.errors import IndexIntegrityError, UnusableIndexError
from codefinder.indexer.facets import Facets, load_facets
from codefinder.indexer.keyword_index import POSTINGS_FILE, TEXT_FIELDS, FieldArrays, load_postings
from codefinder.indexer.knowledge import Knowledge, load_snapshot
from codefinder.indexer.learned_shorthand import tokenizer_words
from codefinder.indexer.manifest import FORMAT_NAME, FORMAT_VERSION, file_digest, read_manifest
from codefinder.indexer.records import CodeRecord
from codefinder.models.onnx_encoder import TOKENIZER_FILE

REQUIRED_FILES = (
    layout.RECORDS,
    layout.VECTORS,
    layout.FAISS_INDEX,
    POSTINGS_FILE,
    layout.KNOWLEDGE,
    layout.RELEASES,
    layout.FACETS,
)
# what a damaged file may raise while being parsed (after its digest matched a rewritten manifest)
PARSE_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError, zipfile.BadZipFile)


def first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


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
    keyword_postings: dict[str, FieldArrays]
    knowledge: Knowledge | None = None
    # the HCPCS releases the build read, oldest first (codefinder changes, GET /changes)
    releases: list[Release] = field(default_factory=list)
    # What each record's descriptor says about its item (role, attributes), one per record (``indexer.facets``).
    facets: list[Facets] = field(default_factory=list)
    # Whole English words the embedding model's tokenizer knows: real words, never "corrected" as typos.
    lexicon: frozenset[str] = frozenset()
    derived: dict[str, Any] = field(default_factory=dict, repr=False)  # read-once views (keyword postings)

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])


def verify_files(build_dir: Path, manifest: dict[str, Any]) -> None:
    """Every listed file exists inside the build with its size and sha256, every required file is
    listed, and no file is on disk that the manifest does not list."""
    where = str(build_dir)
    listed: dict[str, dict[str, Any]] = manifest["files"]
    for relative, facts in listed.items():
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or relative == layout.MANIFEST:
            raise IndexIntegrityError(where, relative, "path", "is not a file name inside the build")
        path = build_dir / relative
        if not path.is_file():
            raise IndexIntegrityError(where, relative, "missing", "is listed in the manifest but not on disk")
        size = path.stat().st_size
        if size != facts["bytes"]:
            raise IndexIntegrityError(where, relative, "size", f"is {size} bytes, manifest says {facts['bytes']}")
        if file_digest(path) != facts["sha256"]:
            raise IndexIntegrityError(where, relative, "sha256", "does not match its sha256 in the manifest")
    for required in REQUIRED_FILES:
        if required not in listed:
            raise IndexIntegrityError(where, required, "missing", "is not listed in the manifest")
    for path in sorted(build_dir.rglob("*")):
        relative = path.relative_to(build_dir).as_posix()
        if path.is_file() and relative != layout.MANIFEST and relative not in listed:
            raise IndexIntegrityError(where, relative, "unlisted", "is on disk but not in the manifest")


def read_checked_manifest(build_dir: Path) -> dict[str, Any]:
    """The manifest, if it is readable, of this format version and carries what the checks need."""
    where = str(build_dir)
    try:
        manifest = read_manifest(build_dir)
    except FileNotFoundError as error:
        raise IndexIntegrityError(where, layout.MANIFEST, "missing", "is missing") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexIntegrityError(where, layout.MANIFEST, "unreadable", f"unreadable ({first_line(error)})") from error
    if not isinstance(manifest, dict):
        raise IndexIntegrityError(where, layout.MANIFEST, "unreadable", "unreadable (not a JSON object)")
    if manifest.get("format") != FORMAT_NAME or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIntegrityError(
            where,
            layout.MANIFEST,
            "format_version",
            f"says format {manifest.get('format')} v{manifest.get('format_version')}, this codefinder reads "
            f"{FORMAT_NAME} v{FORMAT_VERSION}; rebuild the index",
        )
    try:
        int(manifest["counts"]["records"]), int(manifest["model"]["dimension"])
        files = manifest["files"]
        if not isinstance(files, dict) or not all({"bytes", "sha256"} <= set(facts) for facts in files.values()):
            raise TypeError("files must map names to their bytes and sha256")
    except (KeyError, TypeError, ValueError) as error:
        raise IndexIntegrityError(where, layout.MANIFEST, "fields", f"lacks or garbles {first_line(error)}") from error
    return manifest


def read_records(build_dir: Path) -> list[CodeRecord]:
    records = []
    with (build_dir / layout.RECORDS).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(CodeRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError, AttributeError) as error:
                raise IndexIntegrityError(
                    str(build_dir), layout.RECORDS, "unreadable", f"unreadable at line {number} ({first_line(error)})"
                ) from error
    return records


def postings_doc_count(build_dir: Path, postings: dict[str, FieldArrays]) -> int:
    """The keyword postings' document count: every field's lengths array has one entry per document."""
    counts = {name: int(lengths.shape[0]) for name, (_, lengths) in postings.items()}
    if len(set(counts.values())) != 1:
        raise IndexIntegrityError(str(build_dir), POSTINGS_FILE, "count", f"has field lengths that disagree: {counts}")
    return next(iter(counts.values()))


def load_index(index: Path, expected_dimension: int | None = None) -> LoadedIndex:
    """Load and verify: format version, every file's size and sha256 (and no unlisted file), then
    record count = keyword doc count = vector count = facet count = id-map length, and the vector dimension."""
    build_dir = layout.resolve_build_dir(index)
    if build_dir is None:
        raise UnusableIndexError(f"no index at {index}; build one with: codefinder build --index {index}")
    where = str(build_dir)
    manifest = read_checked_manifest(build_dir)
    verify_files(build_dir, manifest)

    records = read_records(build_dir)
    loaded: dict[str, Any] = {}
    readers = {
        layout.VECTORS: lambda path: np.load(path, allow_pickle=False),
        layout.FAISS_INDEX: lambda path: faiss.read_index(str(path)),
        POSTINGS_FILE: load_postings,
        layout.KNOWLEDGE: load_snapshot,
        layout.RELEASES: load_releases,
        layout.FACETS: load_facets,
    }
    for name, read in readers.items():
        try:
            loaded[name] = read(build_dir / name)
        except PARSE_ERRORS as error:
            raise IndexIntegrityError(where, name, "unreadable", f"unreadable ({first_line(error)})") from error
    vectors, flat = loaded[layout.VECTORS], loaded[layout.FAISS_INDEX]
    postings: dict[str, FieldArrays] = loaded[POSTINGS_FILE]
    if set(postings) != set(TEXT_FIELDS):
        raise IndexIntegrityError(where, POSTINGS_FILE, "unreadable", f"unreadable (fields {sorted(postings)})")

    expected = int(manifest["counts"]["records"])
    counts = {
        layout.RECORDS: len(records),
        POSTINGS_FILE: postings_doc_count(build_dir, postings),
        layout.VECTORS: int(vectors.shape[0]) if vectors.ndim else 0,
        layout.FAISS_INDEX: int(flat.ntotal),
        layout.FACETS: len(loaded[layout.FACETS]),
    }
    for name, count in counts.items():
        if count != expected:
            raise IndexIntegrityError(where, name, "count", f"holds {count} entries, manifest says {expected}")
    dimension = int(manifest["model"]["dimension"])
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise IndexIntegrityError(
            where, layout.VECTORS, "dimension", f"holds vectors of shape {vectors.shape}, manifest says {dimension}-d"
        )
    if vectors.dtype != np.float32:
        raise IndexIntegrityError(where, layout.VECTORS, "dtype", f"holds {vectors.dtype} vectors, not float32")
    if flat.d != dimension:
        raise IndexIntegrityError(where, layout.FAISS_INDEX, "dimension", f"is {flat.d}-d, manifest says {dimension}-d")
    if expected_dimension is not None and dimension != expected_dimension:
        raise IndexIntegrityError(
            where,
            layout.MANIFEST,
            "dimension",
            f"says {dimension}-d vectors but the encoder gives {expected_dimension}-d; rebuild the index",
        )

    row_of_code: dict[str, int] = {}
    for row, record in enumerate(records):
        if record.code in row_of_code:
            raise IndexIntegrityError(
                where,
                layout.RECORDS,
                "duplicate_code",
                f"lists {record.code} twice (rows {row_of_code[record.code]} and {row})",
            )
        row_of_code[record.code] = row
    return LoadedIndex(
        build_dir=build_dir,
        manifest=manifest,
        records=records,
        row_of_code=row_of_code,
        sorted_codes=sorted(row_of_code),
        vectors=vectors,
        faiss_index=flat,
        keyword_postings=postings,
        knowledge=loaded[layout.KNOWLEDGE],
        releases=loaded[layout.RELEASES],
        facets=loaded[layout.FACETS],
        lexicon=read_lexicon(build_dir),
    )


def read_lexicon(build_dir: Path) -> frozenset[str]:
    """The whole words (lower case, letters only, 3+ long) of the WordPiece vocabulary of the query model
    that travels with the index; empty when the index has none (built with another encoder)."""
    try:
        return tokenizer_words(build_dir / layout.MODEL_DIR / TOKENIZER_FILE)
    except (OSError, ValueError, KeyError, TypeError) as error:
        relative = f"{layout.MODEL_DIR}/{TOKENIZER_FILE}"
        reason = f"unreadable ({first_line(error)})"
        raise IndexIntegrityError(str(build_dir), relative, "unreadable", reason) from error
