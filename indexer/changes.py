"""What changed between two HCPCS releases: codes added, codes terminated, descriptors changed.

A build keeps every release it read (the current list and the older releases read for dates) as a compact
table in the index (``releases.json``), so ``codefinder changes`` and ``GET /changes`` can compare any two of
them; the CLI also compares two release files directly.

- added: the newer release lists the code, the older one does not (unless it ended before the older one);
- terminated: the newer release gives the code a termination date the older did not (or another one), or
  a complete release no longer lists a code the older one had as active;
- descriptor changed: both list the code and its long descriptor (else its short one, when both releases
  have short ones) differs in more than case and spacing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from codefinder.indexer.errors import CodefinderError
from codefinder.indexer.records import CodeRecord

CHANGE_KINDS = ("added", "terminated", "descriptor_changed")


class ReleaseRow(NamedTuple):
    long_description: str | None
    short_description: str | None
    add_date: str | None
    effective_date: str | None
    termination_date: str | None
    action_code: str | None


# A stored row: code, long and short descriptor (indexes into the shared texts, -1 for none), four dates.
StoredRow = list[Any]


@dataclass
class Release:
    """One HCPCS release as a table of codes. ``dated``: it carries add/termination dates (a full release,
    not the web list). Read from an index, its rows are built from the stored table on first use (the
    table is in memory: an index loads in ~1.5 s, and most never compare releases)."""

    name: str
    date: dt.date | None
    dated: bool
    count: int
    stored: tuple[list[StoredRow], list[str]] | None = field(default=None, repr=False)
    built: dict[str, ReleaseRow] | None = field(default=None, repr=False)

    @classmethod
    def from_records(cls, name: str, date: dt.date | None, records: list[CodeRecord]) -> Release:
        rows = {
            r.code: ReleaseRow(
                r.long_description, r.short_description, r.add_date, r.effective_date, r.termination_date, r.action_code
            )
            for r in records
        }
        dated = any(row.add_date or row.effective_date or row.termination_date for row in rows.values())
        return cls(name, date, dated, len(rows), built=rows)

    @property
    def rows(self) -> dict[str, ReleaseRow]:
        if self.built is None:  # two threads may both build it: same result, one assignment wins
            table, texts = self.stored or ([], [])
            self.built = {
                row[0]: ReleaseRow(
                    texts[row[1]] if row[1] >= 0 else None, texts[row[2]] if row[2] >= 0 else None, *row[3:7]
                )
                for row in table
            }
        return self.built

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "date": self.date.isoformat() if self.date else None,
            "dated": self.dated,
            "codes": self.count,
        }

    def active_on_its_date(self, row: ReleaseRow) -> bool:
        return not (row.termination_date and self.date and row.termination_date < self.date.isoformat())


@dataclass(frozen=True)
class Change:
    change: str
    code: str
    date: str | None
    action_code: str | None
    old_description: str | None
    new_description: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class UnknownRelease(CodefinderError):
    """A release name or date that matches no release of the index (or more than one)."""


def _same(a: str | None, b: str | None) -> bool:
    return " ".join((a or "").split()).casefold() == " ".join((b or "").split()).casefold()


def compare(old: Release, new: Release) -> list[Change]:
    """The changes from ``old`` to ``new``, by kind (added, terminated, descriptor changed), then code."""
    changes: list[Change] = []
    for code, row in new.rows.items():
        before = old.rows.get(code)
        if before is None:
            ended_before = row.termination_date and old.date and row.termination_date < old.date.isoformat()
            if not ended_before:  # a code that ended before the older release was not added since
                changes.append(Change("added", code, row.add_date, row.action_code, None, row.long_description))
            continue
        if row.termination_date and row.termination_date != before.termination_date:
            changes.append(
                Change("terminated", code, row.termination_date, row.action_code, before.long_description, None)
            )
        field = "long_description" if before.long_description and row.long_description else "short_description"
        old_text, new_text = getattr(before, field), getattr(row, field)
        if old_text and new_text and not _same(old_text, new_text):
            changes.append(Change("descriptor_changed", code, row.effective_date, row.action_code, old_text, new_text))
    if new.dated:  # a full release lists terminated codes with their date; one it drops is gone too
        for code, before in old.rows.items():
            if code not in new.rows and old.active_on_its_date(before):
                changes.append(Change("terminated", code, None, None, before.long_description, None))
    order = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
    return sorted(changes, key=lambda change: (order[change.change], change.code))


def save_releases(path: Path, releases: list[Release]) -> None:
    """One JSON file; every distinct descriptor stored once (releases repeat most of them)."""
    texts: dict[str, int] = {}

    def ref(text: str | None) -> int:
        return -1 if text is None else texts.setdefault(text, len(texts))

    def row(code: str, r: ReleaseRow) -> list[Any]:
        dates = [r.add_date, r.effective_date, r.termination_date, r.action_code]
        return [code, ref(r.long_description), ref(r.short_description), *dates]

    tables = {release.name: [row(code, r) for code, r in release.rows.items()] for release in releases}
    payload = {
        "releases": [release.summary() for release in releases],
        "texts": list(texts),
        "rows": tables,
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load_releases(path: Path) -> list[Release]:
    """The releases an index holds; ValueError/KeyError/TypeError when the file is not what a build wrote."""
    data = orjson.loads(path.read_bytes())  # 2-3 MB for the shared data: orjson parses it in a few ms
    texts: list[str] = data["texts"]
    releases = []
    for summary in data["releases"]:
        table = data["rows"][summary["name"]]
        if len(table) != int(summary["codes"]) or any(len(row) != 7 for row in table[:1]):
            raise ValueError(f"release {summary['name']!r}: its table does not match its summary")
        date = dt.date.fromisoformat(summary["date"]) if summary["date"] else None
        releases.append(Release(summary["name"], date, bool(summary["dated"]), len(table), stored=(table, texts)))
    return releases


def find_release(releases: list[Release], wanted: str) -> Release:
    """A release by its file name (whole, or a part of it such as ``2019``), or its date (``2020-10``)."""
    key = wanted.strip()
    if not key:
        raise UnknownRelease("name a release (its file name, or its date such as 2020-10)")
    exact = [r for r in releases if r.name == key]
    by_date = [r for r in releases if r.date and r.date.isoformat().startswith(key)]
    by_name = [r for r in releases if key.casefold() in r.name.casefold()]
    for found in (exact, by_date, by_name):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(r.name for r in found)
            raise UnknownRelease(f"{key!r} matches several releases ({names}); give more of the name")
    known = ", ".join(f"{r.name} ({r.date})" for r in releases) or "none"
    raise UnknownRelease(f"no release {key!r} in this index; it holds: {known}")


def changes_payload(old: Release, new: Release, kinds: tuple[str, ...] = CHANGE_KINDS) -> dict[str, Any]:
    found = [change for change in compare(old, new) if change.change in kinds]
    return {
        "from": old.summary(),
        "to": new.summary(),
        "counts": {kind: sum(1 for change in found if change.change == kind) for kind in kinds},
        "changes": [change.to_dict() for change in found],
    }


CSV_COLUMNS = ("change", "code", "date", "action_code", "old_description", "new_description")
