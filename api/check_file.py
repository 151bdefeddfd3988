"""``POST /verify/csv``: a chunk of a CSV file in, its report rows out — the web page's "Check a file".

The page splits a file at record boundaries into chunks within the request limits (body <= 256 KiB, at most
1,000 rows), each with the file's header line and the line number its first row has in the file, and posts
them one after another. The server reads each chunk exactly as ``codefinder verify`` reads a file (the same
column detection, the same checks, ``verify_rows``), so the page's report and the command's have the same
columns, verdicts and line numbers; the page only joins the rows.
"""

from __future__ import annotations

import dataclasses
import io
import time
from typing import Any

from fastapi import APIRouter, Request

from codefinder.api import limits
from codefinder.api.deadline import check_deadline
from codefinder.api.routes import checked_setting, fast_json
from codefinder.api.schemas import CheckCsvIn, CheckCsvOut, error_responses
from codefinder.api.service import pinned_engine
from codefinder.api.tables import csv_records, detect_columns, renamed_columns, renamed_row, report_names, text_table
from codefinder.api.verify_report import answer_rows
from codefinder.indexer.errors import QueryError
from codefinder.search.verify_table import REPORT_COLUMNS, TableOptions

router = APIRouter()


@router.post(
    "/verify/csv", response_model=CheckCsvOut, tags=["verify"], responses=error_responses(400, 413, 422, 503)
)
def verify_csv(request: Request, body: CheckCsvIn) -> Any:
    """Up to 1,000 rows of a CSV file (its header line first): every row's report row, in order, with the
    columns ``codefinder verify`` writes (the input's, then line, verdict, confidence, better codes, reasons…)."""
    engine = pinned_engine(request)
    started = time.perf_counter()
    header, delimiter = text_table(body.csv, body.delimiter)
    if not any(header):
        raise QueryError("csv: the first line should be a header naming the columns")
    given = {
        "description": body.description_column,
        "code": body.code_column,
        "modifiers": body.modifiers_column,
        "units": body.units_column,
    }
    columns = detect_columns(header, given, "csv")
    names = report_names(header)  # an input column named like a report column is renamed
    read = csv_records(io.StringIO(body.csv), header, delimiter, first_line=body.first_line)
    records = [renamed_row(row, names) for row in read]
    if len(records) > limits.MAX_VERIFY_ITEMS:
        raise QueryError(f"csv: {len(records)} rows; send at most {limits.MAX_VERIFY_ITEMS} per request")
    options = TableOptions(
        renamed_columns(columns, names),
        setting=checked_setting(body.setting),
        max_description_chars=limits.MAX_VERIFY_DESCRIPTION_CHARS,
    )
    rows = answer_rows(engine, records, options, check=lambda: check_deadline(request))
    return fast_json(
        {
            "columns": [*names.values(), *REPORT_COLUMNS],
            "detected": dataclasses.asdict(columns),
            "rows": rows,
            "index_version": engine.index.build_id,
            "took_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    )
