"""Code history from older HCPCS releases: when a code was added, took effect and was terminated.

The current release as CMS ships it for the web (``HCPC2025_JUL_ANWEB_v3.xlsx``) lists every code with its
long descriptor only, including codes terminated years ago (C9027, pembrolizumab, ended 2015-12-31). Without
dates those would be served as current codes. Older full releases (the 2020 workbook, the 2019 fixed-width
file) carry ADD/ACT EFF/TERM dates, so they are read for dates alone: their descriptors are out of date
and never replace the current ones, and a code they know that the current sources do not is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from codefinder.indexer.records import CodeRecord

HISTORY_FIELDS = ("add_date", "effective_date", "termination_date", "action_code")


@dataclass
class HistoryReport:
    """What the history releases filled in: per field, how many records got a value."""

    filled: dict[str, int]
    unknown_codes: int


def apply_history(records: list[CodeRecord], releases: list[list[CodeRecord]]) -> HistoryReport:
    """Fill each record's empty date fields from the releases, newest release first (the first to give a
    field a value keeps it). A code the current Addendum B lists (it has an OPPS status indicator) is in
    use, so an older termination date is not applied to it."""
    by_key = {record.key: record for record in records}
    filled = dict.fromkeys(HISTORY_FIELDS, 0)
    unknown: set[tuple[str, str]] = set()
    for release in releases:
        for old in release:
            record = by_key.get(old.key)
            if record is None:
                unknown.add(old.key)
                continue
            for name in HISTORY_FIELDS:
                value = getattr(old, name)
                if not value or getattr(record, name):
                    continue
                if name == "termination_date" and record.opps_status_indicator:
                    continue
                setattr(record, name, value)
                filled[name] += 1
    return HistoryReport(filled=filled, unknown_codes=len(unknown))
