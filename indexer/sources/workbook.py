"""HCPCS releases as xlsx workbooks (and the NOC list), header row found by name.

The 2020 workbook has note rows above a 48-column header; the 2025 workbook has only
``HCPCS, LONG_DESCRIPTION`` with right-aligned codes; the NOC list has a title row.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord, parse_cms_date
from codefinder.indexer.sources.base import (
    NotACodeFile,
    SourceResult,
    checked_code,
    clean_text,
    find_column,
    header_key,
)

CODE_COLUMNS = ("hcpc", "hcpcs", "hcpcscode", "code", "cpt", "cptcode")
LONG_COLUMNS = ("longdescription", "description", "longdescriptor", "descriptor")
HEADER_SEARCH_ROWS = 60

OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "short_description": ("shortdescription", "shortdescriptor"),
    "record_id": ("recid", "ric"),
    "betos": ("betos",),
    "coverage": ("cov", "coverage"),
    "type_of_service": ("tos1", "tos"),
    "cross_reference": ("xref1", "xref"),
    "add_date": ("adddt", "adddate"),
    "effective_date": ("acteffdt", "effectivedate"),
    "termination_date": ("termdt", "termdate", "terminationdate"),
    "action_code": ("actioncd", "actioncode"),
}
DATE_FIELDS = {"add_date", "effective_date", "termination_date"}


def cell_code(value: Any) -> str:
    """Workbook cells may hold codes as numbers (CPT ``100`` is ``00100``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:05d}"
    return str(value or "")


def _rows(source: Path | bytes) -> Iterator[tuple[str, Iterator[tuple[Any, ...]]]]:
    import openpyxl

    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def read_workbook(source: Path | bytes, display_name: str) -> SourceResult:
    """Read the first sheet that has a code column and a description column."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = list(_sheet_results(source, display_name))
    except SourceError:
        raise
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise SourceError(display_name, f"not a readable xlsx workbook ({type(error).__name__}: {error})") from error
    if not sheets:
        raise NotACodeFile(display_name, "no sheet has a header row with a HCPCS code column and a description column")
    return sheets[0]


def _sheet_results(source: Path | bytes, path: str) -> Iterator[SourceResult]:
    for _title, rows in _rows(source):
        preamble: list[str] = []
        for number, row in enumerate(rows, start=1):
            cells = ["" if cell is None else str(cell) for cell in row]
            code_col = find_column(cells, *CODE_COLUMNS)
            long_col = find_column(cells, *LONG_COLUMNS)
            if code_col is not None and long_col is not None:
                noc = any("noc" in header_key(line).split("codes")[0] for line in preamble)
                yield _read_body(rows, cells, number, path, code_col, long_col, noc)
                return
            preamble.extend(cell for cell in cells if cell)
            if number >= HEADER_SEARCH_ROWS:
                break


def _read_body(
    rows: Iterator[tuple[Any, ...]],
    header: list[str],
    header_line: int,
    path: str,
    code_col: int,
    long_col: int,
    noc: bool,
) -> SourceResult:
    shape = "hcpcs-noc-workbook" if noc else "hcpcs-workbook"
    result = SourceResult(path=path, shape=shape)
    columns = {name: find_column(header, *keys) for name, keys in OPTIONAL_COLUMNS.items()}
    current: CodeRecord | None = None
    for number, row in enumerate(rows, start=header_line + 1):
        if not any(cell not in (None, "") for cell in row):
            continue
        values = {name: (row[col] if col is not None and col < len(row) else None) for name, col in columns.items()}
        raw_code = row[code_col] if code_col < len(row) else None
        if raw_code in (None, ""):
            result.skip(number, "row without a code")
            continue
        code = checked_code(cell_code(raw_code), path, number)
        long_text = clean_text(row[long_col] if long_col < len(row) else None)
        record_id = str(values.pop("record_id") or "").strip()
        if record_id in ("4", "8"):
            if current is None or current.code != code:
                raise SourceError(path, f"continuation row for {code} does not follow its first row", number)
            if long_text:
                current.long_description = clean_text(f"{current.long_description or ''} {long_text}")
            continue
        try:
            fields = {
                name: (parse_cms_date(value) if name in DATE_FIELDS else clean_text(value))
                for name, value in values.items()
            }
            current = CodeRecord.new(code, long_description=long_text, noc=noc, **fields)
        except ValueError as error:
            raise SourceError(path, str(error), number) from error
        result.records.append(current)
    if not result.records:
        raise SourceError(path, "header row found but no code rows under it", header_line)
    return result
