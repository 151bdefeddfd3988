"""The licensed CPT files a user puts in ``<data dir>/cpt/``, read without being named one by one.

Every file there with a text, XML or workbook suffix is read and its shape sniffed (``indexer/sources``).
Files that are no code file at all (a readme) are left out and reported; a code file with a bad line stops
the build like any source. Where the AMA ships the same descriptors twice, one copy is used: the mixed-case
long descriptors before the upper-case ones and the tab-separated before the fixed-width, and the short
descriptors (``SHORTU``) before the medium ones (``MEDU``), which fill the short field only when no short
file is there. The files are then applied in a fixed order: long descriptors, PLA codes, short
descriptors, consumer and clinician descriptors (synonyms), history and deleted codes, the CMS RVU file,
Addendum B, any other code list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefinder.indexer.sources import read_source
from codefinder.indexer.sources.base import NotACodeFile, SourceResult

SUFFIXES = {".txt", ".csv", ".tsv", ".tab", ".xml", ".xlsx"}
ORDER = (
    "ama-cpt-long-tab",
    "ama-cpt-long-fixed",
    "ama-cpt-pla-xml",
    "ama-cpt-short",
    "ama-cpt-medium",
    "ama-cpt-consumer-descriptors",
    "ama-cpt-clinician-descriptors",
    "ama-cpt-history",
    "ama-cpt-deleted",
    "pfs-rvu-fixed-width",
    "pfs-rvu-csv",
    "opps-addendum-b",
)
# Files that hold the same field for the same codes: only the first of each group (in ORDER, mixed case
# first) is used.
SLOTS = {
    "ama-cpt-long-tab": "long",
    "ama-cpt-long-fixed": "long",
    "ama-cpt-short": "short",
    "ama-cpt-medium": "short",
}


@dataclass
class CptPlan:
    """The candidate files in ``<data dir>/cpt/``, and after reading: what is used, what is not and why."""

    candidates: list[Path] = field(default_factory=list)
    used: list[SourceResult] = field(default_factory=list)
    left_out: list[dict[str, str]] = field(default_factory=list)

    def to_manifest(self) -> dict[str, Any]:
        return {"used": [Path(r.path).name for r in self.used], "left_out": self.left_out}


def cpt_candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith((".", "~")) and path.suffix.lower() in SUFFIXES
    )


def read_cpt_directory(plan: CptPlan) -> CptPlan:
    """Read every candidate, leave out what is not a code file or duplicates a better copy, order the rest."""
    results: list[SourceResult] = []
    for path in plan.candidates:
        try:
            results.append(read_source(path))
        except NotACodeFile as error:
            plan.left_out.append({"name": path.name, "reason": f"not a code file ({error})"})
    results.sort(key=_rank)
    taken: dict[str, str] = {}
    for result in results:
        slot = SLOTS.get(result.shape)
        name = Path(result.path).name
        if slot is not None and slot in taken:
            plan.left_out.append({"name": name, "reason": f"same {slot} descriptors as {taken[slot]}"})
            continue
        if slot is not None:
            taken[slot] = name
        plan.used.append(result)
    return plan


def _rank(result: SourceResult) -> tuple[int, int, str]:
    position = ORDER.index(result.shape) if result.shape in ORDER else len(ORDER)
    upper_case = 0 if any(any(ch.islower() for ch in r.description) for r in result.records[:50]) else 1
    return position + (0 if SLOTS.get(result.shape) != "long" else upper_case * 2), upper_case, result.path
