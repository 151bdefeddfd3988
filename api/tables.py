"""Tables of lines to check, read a chunk at a time: CSV, TSV (any delimiter) or Parquet, with the columns that
hold the description, code, modifiers and billed units found by name or given.

Nothing here holds a whole file: CSV and TSV are read record by record (a record's line number is the line it
starts on, the header being line 1), Parquet a record batch at a time (row numbers from 1). A record with more
or fewer fields than the header, or one the CSV reader refuses, comes back as a ``BadRow`` with its line so the
caller can report it and go on.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from codefinder.indexer.errors import QueryError
from codefinder.search.verify_table import REPORT_COLUMNS, Columns, InputRow

FORMATS = ("csv", "tsv", "parquet")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
PARQUET_BATCH_ROWS = 4096
# Column names that mean each role, compared lower-case with punctuation as spaces.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "description": (
        "description",
        "desc",
        "charge description",
        "chargemaster description",
        "service description",
        "item description",
        "procedure description",
        "long description",
        "short description",
    ),
    "code": (
        "code",
        "hcpcs",
        "hcpcs code",
        "cpt",
        "cpt code",
        "cpt hcpcs",
        "hcpcs cpt",
        "cpt hcpcs code",
        "hcpcs cpt code",
        "billing code",
        "procedure code",
    ),
    "modifiers": ("modifiers", "modifier", "mods", "mod", "hcpcs modifier", "hcpcs modifiers"),
    "units": ("units", "unit", "billed units", "billing units", "service units", "qty", "quantity"),
}


class TableError(QueryError):
    """A file that cannot be read as a table, or whose columns cannot be found (422 over HTTP)."""


@dataclass(frozen=True)
class BadRow:
    """A record that is not a row of the table: its line and why."""

    line: int
    why: str
    values: dict[str, str]


def name_key(name: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.lower()).split())


def detect_columns(header: Sequence[str], given: dict[str, str | None], where: str) -> Columns:
    """The column of each role: the one named on the command line, else the first whose name means it."""
    keys = {name_key(column): column for column in reversed(header)}
    found: dict[str, str | None] = {}
    for role, names in COLUMN_NAMES.items():
        wanted = given.get(role)
        if wanted:
            if wanted not in header and name_key(wanted) not in keys:
                raise TableError(f"{where}: no column {wanted!r}; the columns are {', '.join(header)}")
            found[role] = wanted if wanted in header else keys[name_key(wanted)]
        else:
            found[role] = next((keys[name] for name in names if name in keys), None)
    for role in ("description", "code"):
        if found[role] is None:
            raise TableError(
                f"{where}: no {role} column (looked for {', '.join(COLUMN_NAMES[role][:4])}…; columns are "
                f"{', '.join(header) or 'none'}); name it with --{role}-column"
            )
    return Columns(str(found["description"]), str(found["code"]), found["modifiers"], found["units"])


def report_names(header: Sequence[str]) -> dict[str, str]:
    """Input column -> its name in the report: unchanged, except a name the report uses for itself."""
    return {column: f"input {column}" if column in REPORT_COLUMNS else column for column in header}


def renamed_row(row: InputRow | BadRow, names: dict[str, str]) -> InputRow | BadRow:
    """A row with its columns named as in the report (see ``report_names``)."""
    values = {names.get(key, key): value for key, value in row.values.items()}
    return BadRow(row.line, row.why, values) if isinstance(row, BadRow) else InputRow(row.line, values)


def renamed_columns(columns: Columns, names: dict[str, str]) -> Columns:
    def name(column: str | None) -> str | None:
        return names.get(column, column) if column else None

    return Columns(names.get(columns.description, columns.description), names.get(columns.code, columns.code),
                   name(columns.modifiers), name(columns.units))


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress of a CSV read record by record)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


class Table:
    """An open table: its header, its size for a progress bar, and its rows one at a time."""

    def __init__(
        self, path: Path, table_format: str | None = None, delimiter: str | None = None, encoding: str = "utf-8-sig"
    ) -> None:
        self.path = path
        self.parts = parquet_parts(path) if path.is_dir() else [path]
        if not path.is_file() and not self.parts:
            raise TableError(f"{path}: no such file" if not path.exists() else f"{path}: no .parquet files in it")
        if path.is_dir():
            self.format = "parquet"
        else:
            self.format = table_format or SUFFIXES.get(path.suffix.lower()) or sniff_format(path)
        if self.format not in FORMATS:
            raise TableError(f"{path}: format must be one of {', '.join(FORMATS)}")
        self.encoding = encoding
        self.delimiter = delimiter or ("\t" if self.format == "tsv" else None)
        self.header: list[str] = []
        self.total_rows: int | None = None
        self.total_bytes = sum(part.stat().st_size for part in self.parts)
        self._counter: CountingReader | None = None
        if self.format == "parquet":
            self._open_parquet()
        else:
            try:
                with self._text() as handle:
                    first = handle.readline()
            except UnicodeDecodeError as error:
                raise self._not_text(error) from error
            if self.delimiter is None:
                self.delimiter = sniff_delimiter(first)
            self.header = [cell.strip() for cell in next(csv.reader([first], delimiter=self.delimiter), [])]
            if not any(self.header):
                raise TableError(f"{path}: line 1 should be a header naming the columns")

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter is not None else 0

    def _text(self) -> io.TextIOWrapper:
        try:
            codecs.lookup(self.encoding)
        except LookupError as error:
            raise TableError(f"unknown encoding {self.encoding!r}") from error
        self._counter = CountingReader(self.path.open("rb"))
        return io.TextIOWrapper(io.BufferedReader(self._counter), encoding=self.encoding, newline="")

    def _not_text(self, error: UnicodeDecodeError) -> TableError:
        return TableError(f"{self.path}: not {self.encoding} text ({error.reason}); pass --encoding (e.g. cp1252)")

    def _open_parquet(self) -> None:
        import pyarrow.parquet as pq  # only a Parquet input pays for importing pyarrow

        self._parquet_files = []
        for part in self.parts:
            try:
                self._parquet_files.append(pq.ParquetFile(part))
            except Exception as error:  # pyarrow raises its own error kinds for a file that is not Parquet
                raise TableError(f"{part}: not a Parquet file ({error})") from error
        self.header = list(self._parquet_files[0].schema_arrow.names)
        for part, parquet in zip(self.parts, self._parquet_files, strict=True):
            if list(parquet.schema_arrow.names) != self.header:
                raise TableError(f"{part}: its columns differ from {self.parts[0].name}'s ({', '.join(self.header)})")
        self.total_rows = sum(parquet.metadata.num_rows for parquet in self._parquet_files)

    def rows(self, after: int = 0) -> Iterator[InputRow | BadRow]:
        """Every row after line (or row) ``after``, as read: ``InputRow`` or ``BadRow``."""
        if self.format == "parquet":
            yield from self._parquet_rows(after)
        else:
            yield from self._csv_rows(after)

    def _csv_rows(self, after: int) -> Iterator[InputRow | BadRow]:
        with self._text() as handle:
            try:
                yield from csv_records(handle, self.header, self.delimiter or ",", after=after)
            except UnicodeDecodeError as error:
                raise self._not_text(error) from error

    def _parquet_rows(self, after: int) -> Iterator[InputRow | BadRow]:
        """Rows numbered from 1 across the parts of a folder, in the order of their names."""
        number = 0
        for parquet in self._parquet_files:
            for group in range(parquet.num_row_groups):
                size = parquet.metadata.row_group(group).num_rows
                if number + size <= after:  # a resumed run skips whole row groups unread
                    number += size
                    continue
                for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group]):
                    columns = {name: batch.column(name).to_pylist() for name in batch.schema.names}
                    for i in range(batch.num_rows):
                        number += 1
                        if number > after:
                            yield InputRow(number, {name: cell_text(values[i]) for name, values in columns.items()})


def csv_records(
    handle: Iterable[str], header: Sequence[str], delimiter: str, after: int = 0, first_line: int = 2
) -> Iterator[InputRow | BadRow]:
    """The records after the header line of ``handle``, numbered by the line each starts on (``first_line``
    for the first one after the header), those up to line ``after`` skipped. Blank records are skipped."""
    width = len(header)
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        next(reader)
    except (csv.Error, StopIteration):
        return
    offset = first_line - reader.line_num - 1
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if start + offset > after:
                yield BadRow(start + offset, f"not a CSV record ({error})", {})
            start = reader.line_num + 1
            continue
        line, start = start + offset, reader.line_num + 1
        if line <= after or not any(field.strip() for field in fields):
            continue
        values = dict(zip(header, fields, strict=False))
        if len(fields) != width:
            yield BadRow(line, f"{len(fields)} fields where the header has {width}", values)
        else:
            yield InputRow(line, values)


def text_table(text: str, delimiter: str | None = None) -> tuple[list[str], str]:
    """The header and delimiter of CSV text (the web page's chunks of a file)."""
    first = text.split("\n", 1)[0]
    chosen = delimiter or sniff_delimiter(first)
    header = next(csv.reader(io.StringIO(text), delimiter=chosen), [])
    return [cell.strip() for cell in header], chosen


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parquet_parts(folder: Path) -> list[Path]:
    """The Parquet files of a folder of parts (as Dask, Spark or pyarrow write them), by name; hidden and
    underscore files (``_SUCCESS``, ``_metadata``) are not parts."""
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.rglob("*.parquet")
        if path.is_file() and not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
    )


def sniff_format(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    return "parquet" if head == b"PAR1" else "csv"


def sniff_delimiter(header_line: str) -> str:
    """Tab, semicolon, pipe or comma: whichever the header line uses most."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in ("\t", ";", "|", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
