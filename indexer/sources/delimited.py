"""Comma- or tab-separated files: OPPS Addendum B, the ASP NDC-HCPCS crosswalk, and plain code lists.

Each finds its header row by name, so preamble lines above it (CMS adds several) are skipped.
"""

from __future__ import annotations

import csv
import io

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.sources.base import (
    NotACodeFile,
    SourceResult,
    checked_code,
    clean_text,
    find_column,
    header_key,
)
from codefinder.indexer.taxonomy import is_code, normalize_code

HEADER_SEARCH_ROWS = 40
PLAIN_CODE_COLUMNS = ("code", "hcpcs", "hcpcscode", "hcpc", "cpt", "cptcode", "procedurecode")
PLAIN_LONG_COLUMNS = ("description", "longdescription", "descriptor", "longdescriptor", "desc", "long", "text")
PLAIN_SHORT_COLUMNS = ("shortdescription", "shortdescriptor", "short", "shortdesc")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) when valid, else cp1252 as CMS's Windows exports are."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _rows(text: str) -> list[list[str]]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _find_header(rows: list[list[str]], wanted: list[tuple[str, ...]]) -> int | None:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if all(find_column(row, *keys) is not None for keys in wanted):
            return index
    return None


def is_crosswalk_code_column(name: str) -> bool:
    key = header_key(name)
    return key.endswith("code") and (key[:-4].isdigit() or key[:-4] in ("hcpcs", ""))


def sniff_delimited(text: str) -> str:
    """Which delimited shape a file is: ``addendum-b``, ``asp-crosswalk``, ``pfs-rvu`` or ``plain``."""
    rows = _rows(text)[:HEADER_SEARCH_ROWS]
    for row in rows:
        keys = {header_key(cell) for cell in row}
        if "drugname" in keys and any(is_crosswalk_code_column(cell) for cell in row):
            return "asp-crosswalk"
        if "shortdescriptor" in keys and ("hcpcscode" in keys or "hcpcs" in keys):
            return "addendum-b"
        if {"hcpcs", "mod", "description"} <= keys:
            return "pfs-rvu"
    return "plain"


def read_addendum_b(text: str, path: str) -> SourceResult:
    """OPPS Addendum B: short descriptors and status indicators, for known or new codes."""
    rows = _rows(text)
    header_at = _find_header(rows, [("hcpcscode", "hcpcs"), ("shortdescriptor",)])
    if header_at is None:
        raise SourceError(path, "no Addendum B header (HCPCS Code, Short Descriptor) in the first lines")
    header = rows[header_at]
    code_col = find_column(header, "hcpcscode", "hcpcs")
    short_col = find_column(header, "shortdescriptor")
    si_col = find_column(header, "statusindicator", "si")
    result = SourceResult(path=path, shape="opps-addendum-b")
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        raw = row[code_col].strip() if code_col < len(row) else ""
        if not is_code(normalize_code(raw)):
            result.skip(number, f"no code in the code column ({raw[:30]!r})")
            continue
        code = normalize_code(raw)
        si = row[si_col].strip() if si_col is not None and si_col < len(row) else ""
        result.records.append(
            CodeRecord.new(
                code,
                short_description=clean_text(row[short_col] if short_col < len(row) else None),
                opps_status_indicator=si or None,
            )
        )
    return result


# How a product is packed, not which drug it is ("IXEMPRA KIT", "SPEVIGO PFS"): left out of the drug-name
# synonyms, where one such word would match every supply query ("KIT INTRD …") to a drug code.
PACKAGING_IN_DRUG_NAMES = frozenset({"kit", "(kit)", "pfs", "pen", "kwikpen", "flexpen", "penfill"})


def drug_name_synonym(name: str) -> str:
    """A crosswalk drug name as a synonym: lower case, packaging words dropped."""
    kept = [word for word in name.lower().split() if word not in PACKAGING_IN_DRUG_NAMES]
    return " ".join(kept) or name.lower()


def read_crosswalk(text: str, path: str) -> SourceResult:
    """ASP NDC-HCPCS crosswalk: one row per NDC; drug names become synonyms of their code."""
    rows = _rows(text)
    header_at = next(
        (
            i
            for i, row in enumerate(rows[:HEADER_SEARCH_ROWS])
            if find_column(row, "drugname") is not None and any(is_crosswalk_code_column(c) for c in row)
        ),
        None,
    )
    if header_at is None:
        raise SourceError(path, "no crosswalk header (a *_CODE column and Drug Name) in the first lines")
    header = rows[header_at]
    code_col = next(i for i, cell in enumerate(header) if is_crosswalk_code_column(cell))
    name_col = find_column(header, "drugname")
    short_col = find_column(header, "shortdescription")
    dosage_col = find_column(header, "hcpcsdosage")
    by_code: dict[str, CodeRecord] = {}
    result = SourceResult(path=path, shape="asp-crosswalk")
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        raw = row[code_col].strip() if code_col < len(row) else ""
        code = normalize_code(raw)
        if not is_code(code):
            result.skip(number, f"no code in the code column ({raw[:30]!r})")
            continue
        record = by_code.get(code)
        if record is None:
            record = CodeRecord.new(
                code,
                short_description=clean_text(row[short_col])
                if short_col is not None and short_col < len(row)
                else None,
                drug_dosage=clean_text(row[dosage_col]) if dosage_col is not None and dosage_col < len(row) else None,
            )
            by_code[code] = record
            result.records.append(record)
        name = clean_text(row[name_col]) if name_col is not None and name_col < len(row) else None
        synonym = drug_name_synonym(name) if name else None
        if synonym and synonym not in record.synonyms:
            record.synonyms.append(synonym)
    return result


def read_plain(text: str, path: str) -> SourceResult:
    """Any other code set (e.g. a licensed CPT file): a code column, a description, maybe a short one."""
    rows = _rows(text)
    first = next((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if first is None:
        raise NotACodeFile(path, "the file is empty")
    header_at = _find_header(rows, [PLAIN_CODE_COLUMNS, PLAIN_LONG_COLUMNS])
    if header_at is not None:
        header = rows[header_at]
        code_col = find_column(header, *PLAIN_CODE_COLUMNS)
        long_col = find_column(header, *PLAIN_LONG_COLUMNS)
        short_col = find_column(header, *PLAIN_SHORT_COLUMNS)
        start = header_at + 1
    elif len(rows[first]) >= 2 and is_code(normalize_code(rows[first][0])):
        code_col, long_col, short_col, start = 0, 1, (2 if len(rows[first]) > 2 else None), first
    else:
        raise NotACodeFile(
            path, "no header with a code column (code/hcpcs/cpt) and a description column (description)", first + 1
        )
    assert code_col is not None and long_col is not None
    result = SourceResult(path=path, shape="plain-delimited")
    seen: set[str] = set()
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(code_col, long_col):
            raise SourceError(
                path, f"expected at least {max(code_col, long_col) + 1} columns, found {len(row)}", number
            )
        code = checked_code(row[code_col], path, number)
        if code in seen:
            raise SourceError(path, f"code {code} appears twice", number)
        seen.add(code)
        long_text = clean_text(row[long_col])
        short_text = clean_text(row[short_col]) if short_col is not None and short_col < len(row) else None
        if not long_text and not short_text:
            raise SourceError(path, f"code {code} has no description", number)
        result.records.append(CodeRecord.new(code, long_description=long_text, short_description=short_text))
    if not result.records:
        raise SourceError(path, "no code rows found")
    return result
