"""Filters over records: code system, level, section letter, kind, and codes not in effect on the day
(terminated, or not yet added)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from codefinder.indexer.errors import QueryError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.taxonomy import canonical_level

KINDS = ("code", "modifier")
SYSTEMS = ("HCPCS", "CPT")


@dataclass(frozen=True)
class Filters:
    system: str | None = None
    level: str | None = None
    section: str | None = None
    kind: str | None = None
    include_terminated: bool = False
    as_of: dt.date | None = None

    @classmethod
    def checked(
        cls,
        system: str | None = None,
        level: str | None = None,
        section: str | None = None,
        kind: str | None = None,
        include_terminated: bool = False,
        as_of: dt.date | None = None,
    ) -> Filters:
        """Canonical values, or QueryError saying which value is wrong."""
        if system:
            system = system.strip().upper()
            if system not in SYSTEMS:
                raise QueryError(f"unknown system {system!r}; use HCPCS or CPT")
        if level:
            try:
                level = canonical_level(level)
            except ValueError as error:
                raise QueryError(str(error)) from error
        if section:
            section = section.strip().upper()
            if len(section) != 1 or not section.isalpha():
                raise QueryError(f"section must be one letter (e.g. E), got {section!r}")
        if kind:
            kind = kind.strip().lower()
            if kind not in KINDS:
                raise QueryError(f"kind must be 'code' or 'modifier', got {kind!r}")
        return cls(system or None, level or None, section or None, kind or None, include_terminated, as_of)


def first_day(record: CodeRecord) -> str:
    if record.add_date:
        return record.add_date
    if record.added_after:
        return (dt.date.fromisoformat(record.added_after) + dt.timedelta(days=1)).isoformat()
    return "0000-01-01"


class RecordColumns:
    """Record attributes as arrays, so a filter becomes a vectorized mask."""

    def __init__(self, records: list[CodeRecord]) -> None:
        self.system = np.array([r.system for r in records])
        self.level = np.array([r.level for r in records])
        self.section = np.array([r.section or "" for r in records])
        self.kind = np.array([r.kind for r in records])
        self.termination = np.array([r.termination_date or "9999-12-31" for r in records])
        # the first day a code is in effect: its add date, else the day after the last list that lacked it
        self.addition = np.array([first_day(r) for r in records])
        self.missing_since = np.array([r.missing_since or "9999-12-31" for r in records])
        self.size = len(records)
        self.sections = sorted({r.section for r in records if r.section})
        self.levels = sorted({r.level for r in records})

    def check(self, filters: Filters) -> None:
        """A filter naming a section or level this index does not hold is a mistake worth a 422 (``section=Z``
        would otherwise answer an empty list, which reads as "nothing matches")."""
        if filters.section and filters.section not in self.sections:
            raise QueryError(f"unknown section {filters.section!r}; this index has sections {', '.join(self.sections)}")
        if filters.level and filters.level not in self.levels:
            if filters.level.startswith("cpt"):
                raise QueryError(f"no {filters.level} codes are loaded: add your licensed CPT files and rebuild")
            raise QueryError(f"no {filters.level} codes in this index; it has {', '.join(self.levels)}")

    def not_in_effect(self, day: str) -> np.ndarray:
        """Rows terminated before ``day`` or added after it."""
        return (self.termination < day) | (self.addition > day)

    def mask(self, filters: Filters, today: dt.date) -> np.ndarray | None:
        """Allowed rows as a boolean array, or None when every row is allowed."""
        self.check(filters)
        mask = np.ones(self.size, dtype=bool)
        if filters.system:
            mask &= self.system == filters.system
        if filters.level:
            mask &= self.level == filters.level
        if filters.section:
            mask &= self.section == filters.section
        if filters.kind:
            mask &= self.kind == filters.kind
        if not filters.include_terminated:  # codes not in effect on the day: terminated, or not yet added
            mask &= ~self.not_in_effect((filters.as_of or today).isoformat())
        return None if mask.all() else mask
