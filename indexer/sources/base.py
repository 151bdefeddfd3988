"""What every reader returns, and helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import is_code, normalize_code


class NotACodeFile(SourceError):
    """A readable file that holds no code list at all (a readme beside the code files), as opposed to a code
    file with a bad line."""


# What a file's records do in a build: ``codes`` give codes and descriptors; ``synonyms`` only add lay
# names to codes the other files give (AMA consumer and clinician descriptors); ``history`` give
# dates and deletions (AMA history and deleted-codes files), and a code of their own only when they carry
# its descriptor.
ROLES = ("codes", "synonyms", "history")


@dataclass
class SourceResult:
    """Records read from one file, what they are for (``role``), and what was skipped and why."""

    path: str
    shape: str
    records: list[CodeRecord] = field(default_factory=list)
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    role: str = "codes"

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(f"line {line}: {reason}")


def header_key(name: object) -> str:
    """A column name reduced to lower-case letters and digits, so ``LONG_DESCRIPTION`` = ``Long Description``."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def find_column(header: list[str], *candidates: str) -> int | None:
    """Index of the first header cell whose key is one of the candidates (keys, not raw names)."""
    keys = [header_key(cell) for cell in header]
    for candidate in candidates:
        if candidate in keys:
            return keys.index(candidate)
    return None


def checked_code(raw: object, path: str, line: int) -> str:
    """A normalized code, or a SourceError naming the line."""
    code = normalize_code(str(raw or ""))
    if not is_code(code):
        raise SourceError(path, f"{str(raw)!r} is not a HCPCS, CPT or modifier code", line)
    return code


def clean_text(raw: object) -> str | None:
    """Collapse runs of white space; None for blank cells."""
    if raw is None:
        return None
    text = " ".join(str(raw).split())
    return text or None
