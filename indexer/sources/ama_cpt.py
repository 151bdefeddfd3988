"""The AMA's CPT data files, read as licensed users receive them (cp1252, CRLF).

- ``LONGULT.txt`` / ``LONGUT.txt``: a copyright notice (paragraphs, then a blank line), then one
  ``code TAB descriptor`` line per code, mixed or upper case.
- ``MEDU.txt`` / ``SHORTU.txt``: the same notice, then fixed width: the code in columns 1-5, the medium or
  short descriptor after it. Where the descriptor starts has varied by year, so it is found from the file.
- ``LONGULF.txt`` / ``LONGUF.txt``: fixed-width long descriptors; a descriptor longer than one record goes
  on in records that repeat the code with the next two-digit sequence number (columns 6-7).
- ``ConsumerDescriptor.txt`` (Concept Id, CPT Code, Consumer Friendly Descriptor) and
  ``ClinicianDescriptor.txt`` (Concept Id, CPT Code, Clinician Descriptor Id, Clinician Descriptor):
  tab-separated with a header; they become lay synonyms of the codes the other files give.
- The history file (Date, Change Type, Concept Id, CPT Code, Level, Prior Value, Current Value,
  Instruction) and the deleted-codes file (Concept Id, Code, Date Deleted, Level, Descriptor, Instruction):
  tab-separated; dates are ``YYYYMMDD`` or ``Pre-YYYY``. A deletion ends a code the day before its date.

Every reader names the file and line of anything it cannot read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.sources.base import SourceResult, clean_text, find_column, header_key

CPT_CODE = r"\d{4}[0-9FTU]"
TAB_LINE = re.compile(rf"({CPT_CODE})\t(.*)")
FIXED_LINE = re.compile(rf"({CPT_CODE})( +)(\S.*)")
SEQUENCED_LINE = re.compile(rf"({CPT_CODE})(\d\d)(?:( +)(\S.*))?")
PRE_DATE = re.compile(r"pre-?\s*(\d{4})", re.IGNORECASE)
# How the history file says a descriptor is missing for a long-deleted code.
NO_DESCRIPTOR = re.compile(r"descriptor not available|^not available$", re.IGNORECASE)

CONSUMER_COLUMNS = ("consumerfriendlydescriptor", "consumerdescriptor")
CLINICIAN_COLUMNS = ("cliniciandescriptor",)
CODE_COLUMNS = ("cptcode", "code")


@dataclass(frozen=True)
class CptLine:
    """One data line of an AMA text file: its 1-based line number and text (line ending removed)."""

    number: int
    text: str


def data_start(lines: list[str], pattern: re.Pattern[str]) -> int | None:
    """Where the data begin: the first line of the data's shape that opens the file or follows a blank line
    (the copyright notice is paragraphs of text, and a blank line ends it)."""
    for i, line in enumerate(lines):
        if pattern.fullmatch(line.rstrip()) and (i == 0 or not lines[i - 1].strip()):
            return i
    return None


def data_lines(text: str, pattern: re.Pattern[str], path: str) -> tuple[list[CptLine], int]:
    """The data lines after the copyright notice, and how many notice lines were skipped. After the first
    data line every non-blank line must have the data's shape."""
    lines = text.splitlines()
    start = data_start(lines, pattern)
    if start is None:
        raise SourceError(path, "no CPT data lines (a code in columns 1-5, then its descriptor) after the notice")
    found: list[CptLine] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        if not pattern.fullmatch(line.rstrip()):
            raise SourceError(path, f"not a CPT data line: {line.strip()[:40]!r}", number)
        found.append(CptLine(number, line.rstrip("\r\n")))
    return found, sum(1 for line in lines[:start] if line.strip())


def _with_skips(result: SourceResult, skipped: int) -> SourceResult:
    result.skipped = skipped
    if skipped:
        result.skipped_examples.append(f"lines 1-{skipped}+: the AMA copyright notice")
    return result


def read_long_tab(text: str, path: str) -> SourceResult:
    """``LONGULT.txt`` / ``LONGUT.txt``: code TAB long descriptor."""
    lines, skipped = data_lines(text, TAB_LINE, path)
    result = SourceResult(path=path, shape="ama-cpt-long-tab")
    seen: set[str] = set()
    for line in lines:
        match = TAB_LINE.fullmatch(line.text.rstrip())
        assert match is not None
        code, descriptor = match.group(1), clean_text(match.group(2))
        if code in seen:
            raise SourceError(path, f"code {code} appears twice", line.number)
        if not descriptor:
            raise SourceError(path, f"code {code} has no descriptor", line.number)
        seen.add(code)
        result.records.append(CodeRecord.new(code, long_description=descriptor))
    return _with_skips(result, skipped)


def descriptor_column(lines: list[CptLine], pattern: re.Pattern[str], group: int) -> int:
    """The 0-based column where most lines' descriptors start: files of different years put it in different
    columns (after a blank, after a sequence number), so it is measured, not assumed."""
    starts = Counter()
    for line in lines:
        match = pattern.fullmatch(line.text.rstrip())
        assert match is not None
        starts[match.start(group)] += 1
    return starts.most_common(1)[0][0]


def read_fixed(text: str, path: str, field: str, shape: str) -> SourceResult:
    """``MEDU.txt`` / ``SHORTU.txt`` (and unsequenced long files): the code in columns 1-5, the descriptor
    from the column the file uses, one line per code. ``field`` is the record field the text fills."""
    lines, skipped = data_lines(text, FIXED_LINE, path)
    column = descriptor_column(lines, FIXED_LINE, 3)
    result = SourceResult(path=path, shape=shape)
    seen: set[str] = set()
    for line in lines:
        code = line.text[:5]
        if code in seen:
            raise SourceError(path, f"code {code} appears twice", line.number)
        seen.add(code)
        # a descriptor that starts left of the usual column is still the descriptor (never cut it)
        first_letter = len(line.text) - len(line.text[5:].lstrip())
        body = line.text[min(column, first_letter) :]
        result.records.append(CodeRecord.new(code, **{field: clean_text(body)}))
    return _with_skips(result, skipped)


def read_long_fixed(text: str, path: str) -> SourceResult:
    """``LONGULF.txt`` / ``LONGUF.txt``. With sequence numbers, a descriptor longer than one record goes on
    in the following records of the same code; a record filled to its last column breaks mid-word and
    joins the next directly, a shorter one ended at a word and joins with a space."""
    if not _sequenced(text):
        return read_fixed(text, path, "long_description", "ama-cpt-long-fixed")
    lines, skipped = data_lines(text, SEQUENCED_LINE, path)
    width = max(len(line.text) for line in lines)
    column = descriptor_column([line for line in lines if len(line.text.rstrip()) > 7], SEQUENCED_LINE, 4)
    result = SourceResult(path=path, shape="ama-cpt-long-fixed")
    pieces: dict[str, list[str]] = {}
    previous: tuple[str, int] | None = None
    previous_full = False
    for line in lines:
        code, sequence = line.text[:5], int(line.text[5:7])
        if previous is not None and previous[0] == code:
            if sequence != previous[1] + 1:
                raise SourceError(path, f"code {code}: sequence {sequence:02d} after {previous[1]:02d}", line.number)
        elif code in pieces:
            raise SourceError(path, f"code {code} appears twice", line.number)
        elif sequence > 1:
            raise SourceError(path, f"code {code} starts at sequence {sequence:02d}", line.number)
        else:
            pieces[code] = []
        body = line.text[column:].rstrip()
        parts = pieces[code]
        # after a record filled to the last column the text runs on as written (a blank there is a blank);
        # after a shorter one a word ended, and the blank that separated it was not kept
        parts.append(body if parts and previous_full else (" " if parts else "") + body.lstrip())
        previous, previous_full = (code, sequence), len(line.text) >= width and not line.text.endswith(" ")
    for code, parts in pieces.items():
        result.records.append(CodeRecord.new(code, long_description=clean_text("".join(parts))))
    return _with_skips(result, skipped)


def _sequenced(text: str) -> bool:
    """True when the data lines carry a two-digit sequence number after the code (``0010001 Anesthesia…``)."""
    sample = [line for line in text.splitlines()[-200:] if line.strip()]
    hits = sum(1 for line in sample if SEQUENCED_LINE.fullmatch(line.rstrip()))
    return bool(sample) and hits >= 0.5 * len(sample)


def _tsv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def _header(rows: list[list[str]], path: str, *wanted: tuple[str, ...]) -> tuple[int, list[int]]:
    for index, row in enumerate(rows[:20]):
        columns = [find_column(row, *keys) for keys in wanted]
        if all(column is not None for column in columns):
            return index, columns  # type: ignore[return-value]
    names = " / ".join(keys[0] for keys in wanted)
    raise SourceError(path, f"no header with the columns {names} in the first lines")


def _cell(row: list[str], column: int | None) -> str:
    return row[column].strip() if column is not None and column < len(row) else ""


def _code(raw: str, path: str, number: int) -> str:
    code = raw.strip().upper()
    if not re.fullmatch(CPT_CODE, code):
        raise SourceError(path, f"{raw!r} is not a CPT code", number)
    return code


def read_descriptors(text: str, path: str, kind: str) -> SourceResult:
    """Consumer (``kind`` ``consumer``) or clinician descriptors: each becomes a synonym of its code."""
    rows = _tsv(text)
    wanted = CONSUMER_COLUMNS if kind == "consumer" else CLINICIAN_COLUMNS
    header_at, (code_col, text_col) = _header(rows, path, CODE_COLUMNS, wanted)
    result = SourceResult(path=path, shape=f"ama-cpt-{kind}-descriptors", role="synonyms")
    by_code: dict[str, CodeRecord] = {}
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        code = _code(_cell(row, code_col), path, number)
        descriptor = clean_text(_cell(row, text_col))
        if not descriptor:
            result.skip(number, f"code {code} without a descriptor")
            continue
        record = by_code.get(code)
        if record is None:
            record = by_code[code] = CodeRecord.new(code)
            result.records.append(record)
        if descriptor not in record.synonyms:
            record.synonyms.append(descriptor)
    if not result.records:
        raise SourceError(path, "no descriptor rows under the header")
    return result


def history_date(raw: str, path: str, number: int) -> tuple[dt.date, bool]:
    """(date, exact): ``20240101`` is exact; ``Pre-1982`` means some day before 1982-01-01."""
    text = raw.strip()
    pre = PRE_DATE.fullmatch(text)
    if pre:
        return dt.date(int(pre.group(1)), 1, 1), False
    try:
        if re.fullmatch(r"\d{8}", text):
            return dt.datetime.strptime(text, "%Y%m%d").date(), True
        return dt.date.fromisoformat(text[:10]), True
    except ValueError as error:
        raise SourceError(path, f"bad date {text!r} (expected YYYYMMDD or Pre-YYYY)", number) from error


def _descriptor_text(raw: str) -> str | None:
    text = clean_text(raw)
    return None if not text or NO_DESCRIPTOR.search(text) else text


@dataclass
class _Timeline:
    """A code's history events in date order, folded into its dates."""

    record: CodeRecord

    def apply(self, change: str, day: dt.date, exact: bool, descriptor: str | None) -> None:
        change = change.upper()
        if exact:
            self.record.effective_date = max(self.record.effective_date or "", day.isoformat())
        if change.startswith("ADD"):
            self.record.add_date = day.isoformat() if exact else None
            self.record.termination_date = None
        elif change.startswith("DEL"):
            self.record.termination_date = (day - dt.timedelta(days=1)).isoformat()
            if descriptor and not self.record.long_description:
                self.record.long_description = descriptor
        self.record.action_code = change[:1] or None


def read_history(text: str, path: str) -> SourceResult:
    """The history file: every change to a code, with its date and type; the last event decides whether the
    code is current (a deletion ends it the day before its date; an addition after that brings it back)."""
    rows = _tsv(text)
    header_at, (date_col, change_col, code_col) = _header(rows, path, ("date",), ("changetype",), CODE_COLUMNS)
    header = rows[header_at]
    prior_col = find_column(header, "priorvalue")
    current_col = find_column(header, "currentvalue")
    events: list[tuple[dt.date, int, str, str, bool, str | None]] = []
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        raw_code = _cell(row, code_col)
        if not raw_code:  # section headings ("Category II Modifiers") have no code
            continue
        code = _code(raw_code, path, number)
        day, exact = history_date(_cell(row, date_col), path, number)
        change = _cell(row, change_col)
        descriptor = _descriptor_text(_cell(row, prior_col) or _cell(row, current_col))
        events.append((day, number, code, change, exact, descriptor))
    return _fold(events, path, "ama-cpt-history")


def read_deleted(text: str, path: str) -> SourceResult:
    """The deleted-codes file: each code ends the day before its deletion date."""
    rows = _tsv(text)
    header_at, (code_col, date_col) = _header(rows, path, CODE_COLUMNS, ("datedeleted", "deleteddate", "date"))
    descriptor_col = find_column(rows[header_at], "descriptor", "description")
    events = []
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        code = _code(_cell(row, code_col), path, number)
        day, exact = history_date(_cell(row, date_col), path, number)
        events.append((day, number, code, "DELETED", exact, _descriptor_text(_cell(row, descriptor_col))))
    return _fold(events, path, "ama-cpt-deleted")


def _fold(events: list[tuple[dt.date, int, str, str, bool, str | None]], path: str, shape: str) -> SourceResult:
    if not events:
        raise SourceError(path, "no code rows under the header")
    timelines: dict[str, _Timeline] = {}
    for day, _number, code, change, exact, descriptor in sorted(events, key=lambda event: (event[0], event[1])):
        timeline = timelines.get(code)
        if timeline is None:
            timeline = timelines[code] = _Timeline(CodeRecord.new(code))
        timeline.apply(change, day, exact, descriptor)
    result = SourceResult(path=path, shape=shape, role="history")
    result.records = [timeline.record for timeline in timelines.values()]
    return result


# Sniffing: which AMA file a text is, from its content (names vary between releases and distributors).
def _header_keys(text: str) -> set[str]:
    first = next((line for line in text.splitlines()[:20] if line.strip()), "")
    return {header_key(cell) for cell in first.split("\t")}


def sniff_ama(text: str, name: str) -> Callable[[str, str], SourceResult] | None:
    """The reader for an AMA CPT data file, or None when the text is not one."""
    keys = _header_keys(text)
    if keys & set(CONSUMER_COLUMNS) and keys & set(CODE_COLUMNS):
        return lambda body, path: read_descriptors(body, path, "consumer")
    if keys & set(CLINICIAN_COLUMNS) and keys & set(CODE_COLUMNS):
        return lambda body, path: read_descriptors(body, path, "clinician")
    if {"date", "changetype"} <= keys and keys & set(CODE_COLUMNS):
        return read_history
    if "datedeleted" in keys and keys & set(CODE_COLUMNS):
        return read_deleted
    lines = text.splitlines()
    sample = [line.rstrip() for line in lines[-200:] if line.strip()]
    if not sample:
        return None

    def shaped(pattern: re.Pattern[str]) -> bool:
        """Most lines have the shape (a bad line must not hide the file's kind: its reader names the line)."""
        share = sum(1 for line in sample if pattern.fullmatch(line)) / len(sample)
        return share >= 0.5 and data_start(lines[:400], pattern) is not None

    upper = name.upper()
    if shaped(TAB_LINE):
        return read_long_tab
    if shaped(SEQUENCED_LINE) or (shaped(FIXED_LINE) and "LONG" in upper):
        return read_long_fixed
    if shaped(FIXED_LINE):
        if "MED" in upper:
            return lambda body, path: read_fixed(body, path, "short_description", "ama-cpt-medium")
        return lambda body, path: read_fixed(body, path, "short_description", "ama-cpt-short")
    return None
