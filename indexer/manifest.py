"""``manifest.json``: what an index was built from and the checksum of every file in it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from codefinder.indexer.layout import MANIFEST

FORMAT_NAME = "codefinder-index"
# 4: records carry currency (missing_from, missing_since, replaced_by), releases.json; 5: record_facets.json
FORMAT_VERSION = 5


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inventory(build_dir: Path) -> dict[str, dict[str, Any]]:
    """Every file below the build directory except the manifest: relative path -> sha256 and size."""
    return {
        path.relative_to(build_dir).as_posix(): {"sha256": file_digest(path), "bytes": path.stat().st_size}
        for path in sorted(build_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(build_dir: Path, content: dict[str, Any]) -> dict[str, Any]:
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **content, "files": inventory(build_dir)}
    (build_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return manifest


def read_manifest(build_dir: Path) -> dict[str, Any]:
    return json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
