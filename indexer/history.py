"""Code history from older HCPCS releases: when a code was added, took effect and was terminated.

The current release as CMS ships it for the web (``HCPC2025_JUL_ANWEB_v3.xlsx``) lists every code with its
long descriptor only, including codes terminated years ago (C9027, pembrolizumab, ended 2015-12-31). Without
dates those would be served as current codes. Older full releases (the 2020 workbook, the 2019 fixed-width
file) carry ADD/ACT EFF/TERM dates, so they are read for dates alone: their descriptors are out of date
and never replace the current ones, and a code they know that the current sources do not is left out.

The newest release that lists a code speaks for it: its dates (a blank termination date included) fill the
record, and older releases are not asked. A record whose dates come from a full release among the current
sources is left alone: that release is newer than any history. A termination date is not applied when a
list dated after it (Addendum B, the ASP crosswalk, the NOC list) still lists the code as in use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from codefinder.indexer.records import CodeRecord

HISTORY_FIELDS = ("add_date", "effective_date", "termination_date", "action_code")


@dataclass(frozen=True)
class InUseList:
    """A dated list whose every code is in use on its date (not a release: the web list keeps dead codes)."""

    name: str
    date: dt.date
    keys: frozenset[tuple[str, str]]


@dataclass
class HistoryReport:
    """What the history releases filled in: per field, how many records got a value."""

    filled: dict[str, int]
    unknown_codes: int
    kept_in_use: int = 0


def apply_history(
    records: list[CodeRecord],
    releases: list[list[CodeRecord]],
    in_use: list[InUseList] | None = None,
    authoritative: frozenset[tuple[str, str]] = frozenset(),
) -> HistoryReport:
    """Fill each record's empty date fields from the newest release (``releases`` newest first) that lists
    its code. ``authoritative`` records (dated by a current full release) are skipped; a termination date
    that a later in-use list contradicts is not applied."""
    by_key = {record.key: record for record in records}
    filled = dict.fromkeys(HISTORY_FIELDS, 0)
    unknown: set[tuple[str, str]] = set()
    answered: set[tuple[str, str]] = set()
    kept = 0
    for release in releases:
        for old in release:
            record = by_key.get(old.key)
            if record is None:
                unknown.add(old.key)
                continue
            if old.key in answered or old.key in authoritative:
                continue
            answered.add(old.key)
            for name in HISTORY_FIELDS:
                value = getattr(old, name)
                if not value or getattr(record, name):
                    continue
                if name == "termination_date" and _in_use_after(old.key, value, in_use or []):
                    kept += 1
                    continue
                setattr(record, name, value)
                filled[name] += 1
    return HistoryReport(filled=filled, unknown_codes=len(unknown), kept_in_use=kept)


def _in_use_after(key: tuple[str, str], termination: str, lists: list[InUseList]) -> bool:
    return any(item.date.isoformat() > termination and key in item.keys for item in lists)
