"""Where an index lives on disk, and how a finished build is published.

An index root holds ``builds/<build id>/`` directories and a ``current`` symlink naming one
of them. A build is written into ``.tmp-*`` under the root, fsynced, renamed into ``builds/``,
and only then is ``current`` switched (a new symlink renamed over the old one), so a reader
sees the last good build or the new one, never a half-written directory. ``publish`` runs these
as separate named steps so a test can fail it between any two of them.
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
KNOWLEDGE = "knowledge.json"
RELEASES = "releases.json"
FACETS = "record_facets.json"
MODEL_DIR = "model"
CURRENT = "current"
POINTER_PREFIX = f".{CURRENT}."
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


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries, so a rename inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Flush every file and directory below ``directory`` so a rename publishes durable data."""
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [*[p for p in directory.rglob("*") if p.is_dir()], directory]:
        fsync_dir(path)


def move_into_builds(temp_dir: Path, root: Path, build_id: str) -> Path:
    """Rename the finished temp dir to ``builds/<build id>``; not served until ``current`` names it."""
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    final = builds / build_id
    os.replace(temp_dir, final)
    fsync_dir(builds)
    return final


def stage_pointer(root: Path, build_id: str) -> Path:
    """A new symlink to the build beside ``current``, ready to be renamed over it."""
    link = root / f"{POINTER_PREFIX}{build_id}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(Path(BUILDS) / build_id, link)
    return link


def switch_current(link: Path, root: Path) -> None:
    """The one atomic step: rename the staged symlink over ``current``."""
    os.replace(link, root / CURRENT)


def publish(temp_dir: Path, root: Path, build_id: str, keep: int = 2) -> Path:
    """Move a finished build into ``builds/`` and point ``current`` at it atomically. A failure before
    ``switch_current`` leaves the previous build current; leftovers go at the next ``prune``."""
    fsync_tree(temp_dir)
    final = move_into_builds(temp_dir, root, build_id)
    link = stage_pointer(root, build_id)
    switch_current(link, root)
    fsync_dir(root)
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
    for pointer in root.glob(f"{POINTER_PREFIX}*"):  # staged by a publish that failed before the switch
        if pointer.is_symlink():
            pointer.unlink()
