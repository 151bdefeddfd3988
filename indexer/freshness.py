"""Is the current index already what a build would make? One digest over everything a build reads.

``make run`` builds before it serves; rebuilding unchanged inputs would only burn a minute and change the
``index_version`` clients see. The digest covers the index format, the source and history files (sha256,
in order), the knowledge tables, the model's name and dimension, the settings that shape the build, and
the build code itself (``codefinder.indexer`` and ``codefinder.models``), so any real change rebuilds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from codefinder.indexer.layout import resolve_build_dir
from codefinder.indexer.manifest import FORMAT_VERSION, file_digest, read_manifest
from codefinder.indexer.settings import Settings

# settings whose values change what a build writes
BUILD_SETTINGS = (
    "embed_max_tokens",
    "default_sources",
    "history_sources",
    "current_list_sections",
    "current_list_min_coverage",
)
BUILD_CODE_PACKAGES = ("codefinder.indexer", "codefinder.models")


def _code_digest() -> str:
    """sha256 over the build code's source files (a code change that alters the index must rebuild it)."""
    import importlib

    digest = hashlib.sha256()
    for name in BUILD_CODE_PACKAGES:
        folder = Path(importlib.import_module(name).__file__ or "").parent
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_digest(
    settings: Settings, encoder_name: str, dimension: int, sources: list[Path], history: list[Path], tables: list[Path]
) -> str:
    facts: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "sources": [(path.name, file_digest(path)) for path in sources],
        "history": [(path.name, file_digest(path)) for path in history],
        "knowledge": [(path.name, file_digest(path)) for path in tables if path.is_file()],
        "model": [encoder_name, dimension],
        "settings": {name: getattr(settings, name) for name in BUILD_SETTINGS},
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def current_build_if_fresh(index_root: Path, digest: str) -> tuple[Path, dict[str, Any]] | None:
    """The current build and its manifest when it was made from exactly these inputs."""
    build_dir = resolve_build_dir(index_root)
    if build_dir is None:
        return None
    try:
        manifest = read_manifest(build_dir)
    except (OSError, ValueError):
        return None
    return (build_dir, manifest) if manifest.get("inputs_digest") == digest else None
