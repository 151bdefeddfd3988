"""Which files a build reads, and how new each one is.

A data dir collects CMS files over time. The newest HCPCS release in ``<data dir>/hcpcs/`` (xlsx, fixed-width
text or the release zip, any quarter) is the one whose descriptors and dates are served, found by the
release date in its name (``HCPC2026_APR_ANWEB.xlsx``, ``2026-Alpha-Numeric-HCPCS-File.zip``) or, failing
that, in its contents (its latest added or effective date). Older releases are read for code dates only
(``indexer/history.py``); the configured base (the July 2025 web list) follows a newer release as a second
source, so codes only it lists are still known. Licensed CPT files in ``<data dir>/cpt/`` are read too
(``indexer/cpt_files.py``). Every list gets a date here, so newer lists can say what is current
(``indexer/currency.py``) and ``codefinder changes`` can compare releases.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from codefinder.indexer.cpt_files import CptPlan, cpt_candidates
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.settings import Settings
from codefinder.indexer.sources.base import SourceResult

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
YEAR = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)")
YEAR_THEN_MONTH = re.compile(r"(?<!\d)(19\d{2}|20\d{2})[_\-. ]?(0[1-9]|1[0-2])(?!\d)")
WORD = re.compile(r"[a-z]+")
RELEASE_NAME = re.compile(r"hcpc\d{4}|alpha[-_ ]?numeric|anweb", re.IGNORECASE)
NOT_A_RELEASE = re.compile(r"layout|noc|addendum|crosswalk|readme|change|trans|notes", re.IGNORECASE)
# A full HCPCS release, or the web list: they list every code of every section.
RELEASE_SHAPES = ("hcpcs-workbook", "hcpcs-fixed-width")


def date_in_name(name: str) -> dt.date | None:
    """``HCPC2020_OCT_ANWEB`` -> 2020-10-01, ``opps_addendum_b_2026_04`` -> 2026-04-01,
    ``2019-Alpha-Numeric-HCPCS-File`` -> 2019-01-01, ``NOC codes_JUL2025`` -> 2025-07-01; None without a year."""
    stem = PurePosixPath(name).name
    numeric = YEAR_THEN_MONTH.search(stem)
    if numeric:
        return dt.date(int(numeric.group(1)), int(numeric.group(2)), 1)
    year = YEAR.search(stem)
    if year is None:
        return None
    month = next((MONTHS[word] for word in WORD.findall(stem.lower()) if word in MONTHS), None)
    if month is None:  # "JUL2025": the month runs into the year
        glued = re.search(r"([a-z]{3,9})(?=19\d{2}|20\d{2})", stem.lower())
        month = MONTHS.get(glued.group(1)[-3:]) if glued else None
    return dt.date(int(year.group(1)), month or 1, 1)


def date_in_contents(records: list[CodeRecord]) -> dt.date | None:
    """A release's date from what it holds: the month of its latest added or effective date."""
    latest = max((d for r in records for d in (r.add_date, r.effective_date) if d), default=None)
    return dt.date.fromisoformat(latest).replace(day=1) if latest else None


def release_date(path: str | Path, records: list[CodeRecord] | None = None) -> dt.date | None:
    """The release date in a file's name (a zip member's name counts), else in its contents."""
    for part in reversed(str(path).split(":")):
        found = date_in_name(part)
        if found is not None:
            return found
    return date_in_contents(records) if records else None


def is_release_name(path: Path) -> bool:
    """A file named like a HCPCS release (not a layout, NOC list, Addendum B or change report)."""
    return bool(RELEASE_NAME.search(path.name)) and not NOT_A_RELEASE.search(path.name)


def has_dates(result: SourceResult) -> bool:
    """A full release carries added/effective/termination dates; the web list only codes and descriptors."""
    return any(r.add_date or r.effective_date or r.termination_date for r in result.records)


@dataclass
class SourcePlan:
    """The files a build reads: ``sources`` in merge order, ``history`` (older releases, dates only) newest
    first, the CPT files, and why anything found was left out or moved."""

    sources: list[Path]
    history: list[Path]
    cpt: CptPlan = field(default_factory=CptPlan)
    notes: list[str] = field(default_factory=list)

    def to_manifest(self) -> dict[str, Any]:
        return {"cpt_directory": self.cpt.to_manifest(), "notes": self.notes}


def plan_sources(settings: Settings, sources: list[Path] | None, history: list[Path] | None) -> SourcePlan:
    """Given ``sources``: exactly those (and ``history`` or none). Otherwise the configured defaults, with
    the newest HCPCS release in ``<data dir>/hcpcs`` first, every older one as history, and the CPT files."""
    if sources:
        return SourcePlan(sources=list(sources), history=list(history or []))
    configured = [settings.data_dir / relative for relative in settings.default_sources]
    configured_history = [settings.data_dir / relative for relative in settings.history_sources]
    plan = SourcePlan(sources=configured, history=list(history) if history is not None else configured_history)
    base = configured[0] if configured else None
    # newest first; of one date, the later name (``…_v3`` after ``…_v2``)
    found = sorted(_releases_in(settings.data_dir / "hcpcs"), key=lambda item: (item[1], item[0].name), reverse=True)
    base_date = _release_day(base) if base is not None else None
    if found and base is not None and found[0][0] != base and (base_date is None or found[0][1] > base_date):
        newest, newest_date = found[0]
        # the configured base follows (its codes stay known), unless it is not there at all
        plan.sources = [newest, *(configured if base.is_file() else configured[1:])]
        was = f"{base.name} ({base_date})" if base.is_file() else f"{base.name} (not in the data dir)"
        plan.notes.append(f"{newest.name} ({newest_date}) is newer than {was}: its codes and dates lead")
        base_date = newest_date
    if history is None and base_date is not None:
        in_use = {path.resolve() for path in [*plan.sources, *plan.history]}
        for path, day in found:
            if day < base_date and path.resolve() not in in_use:
                plan.history.append(path)
                plan.notes.append(f"{path.name} ({day}) read for code dates")
        plan.history.sort(key=lambda path: date_in_name(path.name) or dt.date.min, reverse=True)
    plan.cpt = CptPlan(candidates=cpt_candidates(settings.data_dir / "cpt"))
    return plan


def _release_day(path: Path) -> dt.date | None:
    """A release file's date: from its name, else (reading it) from its contents."""
    day = date_in_name(path.name)
    if day is None and path.is_file():
        from codefinder.indexer.sources import read_source

        day = date_in_contents(read_source(path).records)
    return day


def _releases_in(folder: Path) -> list[tuple[Path, dt.date]]:
    """The HCPCS releases in a folder with their dates (undated ones are left out)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith((".", "~")) and is_release_name(path):
            day = _release_day(path)
            if day is not None:
                found.append((path, day))
    return found
