"""The Medicare Physician Fee Schedule relative value file (``PPRRVU…``), which carries the CMS short
descriptor of every CPT and Level II code it prices.

Two shapes, both in CMS's quarterly RVU zip:
- fixed-width TXT: notice lines starting ``HDR``, then one record per code and modifier: code in columns
  1-5, modifier 6-7, description 8-57, status code 58;
- CSV: notice rows, then a header naming ``HCPCS``, ``MOD``, ``DESCRIPTION`` and the status code column
  (its name may sit on the header row or the row above it).

Only rows without a modifier are kept (the ``26``/``TC`` rows repeat the code). Status ``D`` marks a code
deleted at the start of the file's year, which is read from its name (``PPRRVU24_JAN``, ``PPRRVU2026_Jan``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import PurePosixPath

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.sources.base import SourceResult, clean_text, find_column
from codefinder.indexer.taxonomy import is_code, normalize_code

HEADER_PREFIX = "HDR"
DATA_RECORD = re.compile(r"[A-Z0-9]{5}[A-Z0-9 ]{2}.{50}[A-Z ]")
FILE_YEAR = re.compile(r"PPRRVU(\d{4}|\d{2})", re.IGNORECASE)
DELETED = "D"


def file_year(path: str) -> int | None:
    match = FILE_YEAR.search(PurePosixPath(path).name)
    if match is None:
        return None
    year = int(match.group(1))
    return year + 2000 if year < 100 else year


def looks_like_rvu_fixed(head: str) -> bool:
    lines = [line for line in head.splitlines() if line.strip()][:400]
    notice = sum(1 for line in lines if line.startswith(HEADER_PREFIX))
    data = sum(1 for line in lines if DATA_RECORD.match(line) and len(line) > 100)
    return notice > 0 and data > 0 and notice + data >= 0.9 * len(lines)


def _record(code: str, description: str | None, status: str, year: int | None) -> CodeRecord:
    record = CodeRecord.new(code, short_description=description)
    if status == DELETED and year is not None:
        record.termination_date = f"{year - 1}-12-31"
    return record


def read_rvu_fixed(text: str, path: str) -> SourceResult:
    result = SourceResult(path=path, shape="pfs-rvu-fixed-width")
    year = file_year(path)
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith(HEADER_PREFIX):
            result.skip(number, "HDR notice line")
            continue
        if not DATA_RECORD.match(line):
            raise SourceError(path, "not an RVU record (code 1-5, modifier 6-7, description 8-57, status 58)", number)
        code = normalize_code(line[:5])
        if not is_code(code):
            raise SourceError(path, f"{line[:5]!r} is not a HCPCS or CPT code", number)
        if line[5:7].strip() or code in seen:
            continue
        seen.add(code)
        result.records.append(_record(code, clean_text(line[7:57]), line[57:58].strip(), year))
    if not result.records:
        raise SourceError(path, "no RVU records after the HDR lines")
    return result


def sniff_rvu_csv(rows: list[list[str]]) -> int | None:
    """The header row of a PPRRVU CSV (``HCPCS``, ``MOD``, ``DESCRIPTION``), or None."""
    for index, row in enumerate(rows[:40]):
        if all(find_column(row, key) is not None for key in ("hcpcs", "mod", "description")):
            return index
    return None


def read_rvu_csv(text: str, path: str) -> SourceResult:
    rows = list(csv.reader(io.StringIO(text)))
    header_at = sniff_rvu_csv(rows)
    if header_at is None:
        raise SourceError(path, "no RVU header (HCPCS, MOD, DESCRIPTION) in the first lines")
    header = rows[header_at]
    code_col, mod_col, text_col = (find_column(header, key) for key in ("hcpcs", "mod", "description"))
    status_col = find_column(header, "statuscode", "status")
    if status_col is None and header_at > 0:  # "STATUS" over "CODE": a header split over two rows
        status_col = find_column(rows[header_at - 1], "status", "statuscode")
    assert code_col is not None and mod_col is not None and text_col is not None
    result = SourceResult(path=path, shape="pfs-rvu-csv", skipped=header_at)
    year = file_year(path)
    seen: set[str] = set()
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        raw = row[code_col] if code_col < len(row) else ""
        code = normalize_code(raw)
        if not is_code(code):
            result.skip(number, f"no code in the HCPCS column ({raw[:30]!r})")
            continue
        modifier = row[mod_col].strip() if mod_col < len(row) else ""
        if modifier or code in seen:
            continue
        seen.add(code)
        status = row[status_col].strip().upper() if status_col is not None and status_col < len(row) else ""
        result.records.append(_record(code, clean_text(row[text_col] if text_col < len(row) else None), status, year))
    if not result.records:
        raise SourceError(path, "header row found but no code rows under it", header_at + 1)
    return result
