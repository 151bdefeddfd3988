"""A whole file in, a report out: the streaming pipeline of ``codefinder verify FILE``.

Rows are read a chunk at a time (``api.tables``), each chunk verified by ``search.verify_table.verify_rows``
and its report rows appended to the report CSV at once, so memory does not grow with the file. After every
chunk the report is flushed to disk and a small progress file beside it (``<report>.progress.json``, written
to a temporary name then renamed) records the last input line done and the report's size: a run that is
killed is continued with ``--resume``, which cuts the report back to that size (a half-written row) and
skips the input lines already done. The progress file also names the input, the options and the index, and
a resume with any of them changed is refused. When the run completes the progress file is removed.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefinder.api.tables import BadRow, Table, renamed_columns, renamed_row, report_names
from codefinder.indexer.errors import CodefinderError
from codefinder.search.engine import SearchEngine
from codefinder.search.verify_table import MALFORMED, REPORT_COLUMNS, InputRow, TableOptions, malformed_row, verify_rows

CHUNK_ROWS = 1000
PROGRESS_SUFFIX = ".progress.json"


class ReportError(CodefinderError):
    """The report cannot be started or resumed as asked."""


@dataclass
class RunTally:
    """What a run did, for the closing summary line."""

    rows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    malformed: list[str] = field(default_factory=list)  # the first few, for the terminal


def progress_path(report: Path) -> Path:
    return report.with_name(report.name + PROGRESS_SUFFIX)


def run_identity(table: Table, options: TableOptions, engine: SearchEngine) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    stat = table.path.stat()
    return {
        "input": str(table.path.resolve()),
        "input_bytes": table.total_bytes,
        "input_mtime_ns": stat.st_mtime_ns,
        "format": table.format,
        "options": {
            **dataclasses.asdict(options.columns),
            "setting": options.setting,
            "as_of": options.as_of.isoformat() if options.as_of else None,
            "candidates": options.candidates,
        },
        "index_version": engine.index.build_id,
    }


def chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class ReportWriter:
    """The report CSV, appended a chunk at a time, with the progress file that makes a run resumable."""

    def __init__(self, report: Path, header: list[str], identity: dict[str, Any], resume: bool) -> None:
        self.report = report
        self.progress = progress_path(report)
        self.header = header
        self.identity = identity
        self.done_through = 0
        if resume:
            self._resume()
        else:
            if self.progress.is_file():
                state = json.loads(self.progress.read_text(encoding="utf-8"))
                raise ReportError(
                    f"{report} is an unfinished run (through line {state.get('done_through')} of "
                    f"{state.get('input')}): pass --resume to continue it, or delete {self.progress.name} to start over"
                )
            self.handle = report.open("w", encoding="utf-8", newline="")
            self.writer = csv.DictWriter(self.handle, header, extrasaction="ignore")
            self.writer.writeheader()
            self._checkpoint()

    def _resume(self) -> None:
        if not self.progress.is_file():
            raise ReportError(f"nothing to resume: {self.progress} does not exist (the run finished or never started)")
        try:
            state = json.loads(self.progress.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ReportError(f"{self.progress} cannot be read: {error}") from error
        differs = [key for key, value in self.identity.items() if state.get("identity", {}).get(key) != value]
        if differs:
            raise ReportError(
                f"cannot resume {self.report}: {', '.join(differs)} changed since the run started; start over"
            )
        self.done_through = int(state["done_through"])
        with self.report.open("r+b") as handle:  # drop a row half-written when the run was stopped
            handle.truncate(int(state["report_bytes"]))
        self.handle = self.report.open("a", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.handle, self.header, extrasaction="ignore")

    def write(self, rows: list[dict[str, str]], through_line: int) -> None:
        self.writer.writerows(rows)
        self.done_through = through_line
        self._checkpoint()

    def _checkpoint(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        state = {
            "identity": self.identity,
            "input": self.identity["input"],
            "done_through": self.done_through,
            "report_bytes": os.fstat(self.handle.fileno()).st_size,
            "updated": dt.datetime.now().isoformat(timespec="seconds"),
        }
        temporary = self.progress.with_name(self.progress.name + ".tmp")
        temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
        temporary.replace(self.progress)

    def finish(self) -> None:
        self.handle.close()
        self.progress.unlink(missing_ok=True)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


def answer_rows(
    engine: SearchEngine, rows: list[InputRow | BadRow], options: TableOptions, check: Callable[[], None] | None = None
) -> list[dict[str, str]]:
    """The report row of every row read: ``verify_rows`` for the rows, ``malformed`` for the records that are not."""
    answers = iter(verify_rows(engine, [row for row in rows if isinstance(row, InputRow)], options, check))
    out = []
    for row in rows:
        if isinstance(row, BadRow):
            out.append(malformed_row(row.line, row.values, f"line {row.line}: {row.why}"))
        else:
            out.append(next(answers))
    return out


def verify_table(
    engine: SearchEngine,
    table: Table,
    options: TableOptions,
    report: Path,
    resume: bool = False,
    strict: bool = False,
    on_chunk: Callable[[int], None] | None = None,
    on_malformed: Callable[[str], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> RunTally:
    """Verify every row of ``table`` into ``report``, a chunk at a time (``verify_rows``), resumable. A malformed
    row is reported (``on_malformed``, and a ``malformed`` row in the report) and skipped; ``strict`` makes it
    fatal. ``on_chunk`` gets the number of rows done after each chunk (for a progress bar)."""
    names = report_names(table.header)  # an input column named like a report column is renamed
    header = [*names.values(), *REPORT_COLUMNS]
    renamed = dataclasses.replace(options, columns=renamed_columns(options.columns, names))
    writer = ReportWriter(report, header, run_identity(table, options, engine), resume)
    tally = RunTally()
    try:
        for chunk in chunks(table.rows(after=writer.done_through), chunk_rows):
            out = answer_rows(engine, [renamed_row(row, names) for row in chunk], renamed)
            for answer in out:
                if answer["verdict"] == MALFORMED:
                    if strict:
                        raise ReportError(f"{table.path}: {answer['reasons']} (--strict)")
                    tally.malformed.append(answer["reasons"])
                    if on_malformed is not None:
                        on_malformed(answer["reasons"])
                tally.verdicts[answer["verdict"]] += 1
            writer.write(out, chunk[-1].line)
            tally.rows += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        writer.finish()
    finally:
        writer.close()
    return tally
