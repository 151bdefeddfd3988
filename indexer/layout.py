"""Where an index lives on disk, and how a finished build is published.

An index root holds ``builds/<build id>/`` directories and a ``current`` symlink naming one
of them. A build is written into ``.tmp-*`` under the root, fsynced, renamed into ``builds/``,
and only then is ``current`` switched (a new symlink renamed over the old one), so a reader
sees the last good build or the new one, never a half-written directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
VECTORS = "vectors.npy"
FAISS_INDEX = "vectors.faiss"
KEYWORD_DIR = "keyword"
KNOWLEDGE = "knowledge.json"
MODEL_DIR = "model"
CURRENT = "current"
BUILDS = "builds"


def resolve_build_dir(index: Path) -> Path | None:
    """The build directory an index path means: ``current`` under a root, or a build dir itself."""
    current = index / CURRENT
    if current.exists():
        return current.resolve()
    if (index / MANIFEST).is_file():
        return index
    return None


def new_temp_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    temp.chmod(0o755)
    return temp


def fsync_tree(directory: Path) -> None:
    """Flush every file and directory below ``directory`` so a rename publishes durable data."""
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [*[p for p in directory.rglob("*") if p.is_dir()], directory]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish(temp_dir: Path, root: Path, build_id: str, keep: int = 2) -> Path:
    """Move a finished build into ``builds/`` and point ``current`` at it atomically."""
    fsync_tree(temp_dir)
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    final = builds / build_id
    os.replace(temp_dir, final)
    link_tmp = root / f".{CURRENT}.{build_id}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(Path(BUILDS) / build_id, link_tmp)
    os.replace(link_tmp, root / CURRENT)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    prune(root, keep=keep)
    return final


def prune(root: Path, keep: int) -> None:
    """Remove old builds (never the current one) and temp dirs left by interrupted builds."""
    current = resolve_build_dir(root)
    builds = sorted((root / BUILDS).iterdir(), key=lambda p: p.name, reverse=True) if (root / BUILDS).is_dir() else []
    for stale in builds[max(keep, 1) :]:
        if current is None or stale.resolve() != current:
            shutil.rmtree(stale, ignore_errors=True)
    for leftover in root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
