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


class IndexError_(CodefinderError):
    """An index that is missing, incomplete or fails its manifest checks."""


class QueryError(CodefinderError):
    """A query or filter value the engine cannot accept."""
