"""The CMS HCPCS contractor file: fixed-width 320-character records in cp1252.

Columns (1-based, from CMS's record layout): code 1-5, sequence 6-10, record id (RIC) 11,
long description 12-91, short description 92-119, cross reference 205-209, coverage 230,
BETOS 257-259, type of service 261, ADD_DT 269-276, ACT_EFF_DT 277-284, TERM_DT 285-292,
ACTION_CD 293. RIC 3/7 start a procedure/modifier record, RIC 4/8 continue its long description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord, parse_cms_date
from codefinder.indexer.sources.base import SourceResult, checked_code, clean_text

RECORD_LENGTH = 320
FIRST_RICS = {"3": "code", "7": "modifier"}
CONTINUATION_RICS = {"4": "3", "8": "7"}
RECORD_START = re.compile(r"[A-Z0-9 ]{5}\d{5}[3478]")


def _field(line: str, start: int, end: int) -> str:
    """Columns ``start``..``end`` (1-based, inclusive), stripped."""
    return line[start - 1 : end].strip()


def looks_like_fixed_width(lines: Iterable[str]) -> bool:
    """True when most non-blank lines start like a contractor record."""
    sample = [line for line in lines if line.strip()][:200]
    hits = sum(1 for line in sample if RECORD_START.match(line) and len(line.rstrip("\r\n")) > 100)
    return bool(sample) and hits >= max(1, len(sample) // 2)


def parse_fixed_width_text(text: str, path: str) -> SourceResult:
    """Parse the whole file; lines before the first record (disclaimers) are counted as skipped."""
    result = SourceResult(path=path, shape="hcpcs-fixed-width")
    current: CodeRecord | None = None
    current_ric = ""
    seen_record = False
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip("\r\n")
        if not line.strip():
            continue
        if not RECORD_START.match(line):
            if seen_record:
                raise SourceError(
                    path, "not a HCPCS record (expected code, sequence number, record id 3/4/7/8)", number
                )
            result.skip(number, "preamble or disclaimer line")
            continue
        seen_record = True
        if len(line) < 91:
            raise SourceError(path, f"record is {len(line)} characters, too short to hold a description", number)
        line = line.ljust(RECORD_LENGTH)
        ric = line[10]
        code = checked_code(line[0:5], path, number)
        if ric in CONTINUATION_RICS:
            if current is None or current.code != code or current_ric != CONTINUATION_RICS[ric]:
                raise SourceError(path, f"continuation record for {code} does not follow its first record", number)
            more = _field(line, 12, 91)
            if more:
                current.long_description = clean_text(f"{current.long_description or ''} {more}")
            continue
        kind = FIRST_RICS[ric]
        try:
            current = CodeRecord.new(
                code,
                long_description=clean_text(_field(line, 12, 91)),
                short_description=clean_text(_field(line, 92, 119)),
                cross_reference=_field(line, 205, 209) or None,
                coverage=_field(line, 230, 230) or None,
                betos=_field(line, 257, 259) or None,
                type_of_service=_field(line, 261, 261) or None,
                add_date=parse_cms_date(_field(line, 269, 276)),
                effective_date=parse_cms_date(_field(line, 277, 284)),
                termination_date=parse_cms_date(_field(line, 285, 292)),
                action_code=_field(line, 293, 293) or None,
            )
        except ValueError as error:
            raise SourceError(path, str(error), number) from error
        if current.kind != kind:
            raise SourceError(path, f"record id {ric} says {kind} but {code} is a {current.kind}", number)
        current_ric = ric
        result.records.append(current)
    if not result.records:
        raise SourceError(path, "no HCPCS records found")
    return result
