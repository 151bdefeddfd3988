"""Verify a chunk of a table's rows: the one function every file-shaped caller runs (``codefinder verify FILE``,
the web page's "Check a file", later the same chunks on workers).

``verify_rows(engine, rows, options)`` is a pure function of its arguments: each row is checked on its own (a
row without a description or code, with billed units that are not a number, or with a modifier the index does
not hold is answered as ``malformed`` with why, and the others go on), the rest go through ``verify_parsed`` —
``SearchEngine.run_many`` underneath, each distinct description searched once — and every row comes back, in
order, as the report's columns: the input's, then the verdict's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import SearchEngine
from codefinder.search.query import normalize_query
from codefinder.search.verify import ParsedItem, Verification, VerifyItem, parse_item, verify_parsed

MALFORMED = "malformed"
# What the report adds to the input's columns, in order.
REPORT_COLUMNS = (
    "line",
    "verdict",
    "confidence",
    "rank",
    "section",
    "better_codes",
    "reasons",
    "flags",
    "expected_units",
    "units_how",
)
# Several reasons or flags in one cell.
SEPARATOR = " | "


@dataclass(frozen=True)
class Columns:
    """Which input columns hold the description, the code (modifiers may follow it), modifiers, billed units."""

    description: str
    code: str
    modifiers: str | None = None
    units: str | None = None


@dataclass(frozen=True)
class TableOptions:
    columns: Columns
    setting: str = "any"
    as_of: dt.date | None = None
    candidates: int = 3
    max_description_chars: int = 256


@dataclass(frozen=True)
class InputRow:
    """One row as read: its line (or row) number in the file and its values by column name."""

    line: int
    values: Mapping[str, str]


class MalformedRow(CodefinderError):
    """A row that cannot be verified; the run reports it with its line and goes on (unless strict)."""


def verify_rows(
    engine: SearchEngine,
    rows: Sequence[InputRow],
    options: TableOptions,
    check: Callable[[], None] | None = None,
) -> list[dict[str, str]]:
    """Every row as a report row (its values, then ``REPORT_COLUMNS``), in order. ``check`` is called between
    searches (a request's deadline)."""
    parsed: list[ParsedItem] = []
    answers: list[dict[str, str] | None] = []
    for row in rows:
        try:
            parsed.append(parse_row(engine, row, options))
            answers.append(None)
        except CodefinderError as error:
            answers.append(malformed_row(row.line, row.values, str(error)))
    verified = verify_parsed(engine, parsed, options.as_of, options.candidates, check, options.setting)
    results = iter(verified)
    report = []
    for row, answer in zip(rows, answers, strict=True):
        report.append(answer if answer is not None else report_row(row, next(results)))
    return report


def parse_row(engine: SearchEngine, row: InputRow, options: TableOptions) -> ParsedItem:
    """The row as a verify item, its code and modifiers looked up; ``MalformedRow`` (or a ``ModifierError``)
    saying what is wrong with it."""
    columns = options.columns
    description = normalize_query(row.values.get(columns.description) or "")
    code = (row.values.get(columns.code) or "").strip()
    if not description:
        raise MalformedRow(f"line {row.line}: no description in column {columns.description!r}")
    if len(description) > options.max_description_chars:
        raise MalformedRow(f"line {row.line}: description longer than {options.max_description_chars} characters")
    if not code:
        raise MalformedRow(f"line {row.line}: no code in column {columns.code!r}")
    modifiers = row.values.get(columns.modifiers) if columns.modifiers else None
    units = billed_units(row.values.get(columns.units) if columns.units else None, row.line)
    return parse_item(engine, VerifyItem(description, code, modifiers or None, units), f"line {row.line}")


def billed_units(text: str | None, line: int) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text.replace(",", "").strip())
    except ValueError as error:
        raise MalformedRow(f"line {line}: units {text.strip()[:20]!r} is not a number") from error
    if not math.isfinite(value) or value < 0:
        raise MalformedRow(f"line {line}: units {text.strip()[:20]!r} is not a count of units")
    return value


def report_row(row: InputRow, result: Verification) -> dict[str, str]:
    record = result.record
    section = (record.section or record.level) if record is not None else ""
    units = result.units
    return {
        **row.values,
        "line": str(row.line),
        "verdict": result.verdict,
        "confidence": "" if result.confidence is None else f"{result.confidence:g}",
        "rank": "" if result.rank is None else str(result.rank),
        "section": section,
        "better_codes": " ".join(hit.code for hit in result.better_candidates),
        "reasons": SEPARATOR.join(reason.message for reason in result.reasons),
        "flags": SEPARATOR.join(f"{flag.rule}: {flag.message}" for flag in result.flags),
        "expected_units": "" if units is None or units.expected is None else str(units.expected.units),
        "units_how": "" if units is None else (units.to_dict()["how"] or ""),
    }


def malformed_row(line: int, values: Mapping[str, str], why: str) -> dict[str, str]:
    """A row that was not verified, with why (the message names the line)."""
    blank = dict.fromkeys(REPORT_COLUMNS, "")
    return {**values, **blank, "line": str(line), "verdict": MALFORMED, "reasons": why}
