"""Domain errors. Each carries a one-line message fit for a CLI or an HTTP 4xx body."""

from __future__ import annotations


class CodefinderError(Exception):
    """Base of every error codefinder reports to a user."""


class SourceError(CodefinderError):
    """A source file that cannot be read as any supported shape, naming the file and line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class UnusableIndexError(CodefinderError):
    """An index that is missing, incomplete or fails its manifest checks."""


class QueryError(CodefinderError):
    """A query or filter value the engine cannot accept."""


class IndexIntegrityError(UnusableIndexError):
    """An index file that fails one of the loader's manifest checks. ``file`` is the file's name inside
    the build (``vectors.npy``, ``manifest.json``) and ``check`` a short id of what failed (``missing``,
    ``size``, ``sha256``, ``format_version``, ``count``, ``dimension``, ``unlisted``, ``duplicate_code``…),
    so callers and tests can tell failures apart without parsing the message."""

    def __init__(self, build_dir: str, file: str, check: str, detail: str) -> None:
        """``detail`` reads on from the file name: "vectors.npy" + "is 10 bytes, manifest says 12"."""
        self.build_dir = build_dir
        self.file = file
        self.check = check
        super().__init__(f"index {build_dir}: {file} {detail} [{check} check]")
