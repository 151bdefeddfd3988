"""Kinds of code a search ranks by what they are rather than what they say: quality-reporting codes, which
report a measure and bill nothing, and the S codes some private payers use in place of a national code."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codefinder.indexer.records import CodeRecord

# OPPS Addendum B status indicator M: "items and services not billable to the MAC". On G and M codes it marks
# the quality-data codes (G8845 "Positive airway pressure therapy prescribed"); on J and Q codes it marks
# drugs billed to the DME MAC, which bill.
NOT_BILLABLE_STATUS = "M"
QUALITY_SECTIONS = frozenset("GM")
# M1000-M1999 are the MIPS quality-data codes; Addendum B lists most of them with status M, not all.
QUALITY_MEASURE_PREFIX = "M1"
CPT_CATEGORY_2 = "cpt-2"  # performance measurement codes (4 digits + F)
PRIVATE_PAYER_SECTION = "S"


def rows_where(records: Sequence[CodeRecord], kind: Callable[[CodeRecord], bool]) -> frozenset[int]:
    return frozenset(row for row, record in enumerate(records) if kind(record))


def is_quality_reporting(record: CodeRecord) -> bool:
    """A code that reports a quality measure and bills nothing ("Positive airway pressure therapy prescribed",
    "Colorectal cancer screening results documented and reviewed"): the service a query describes comes
    before it."""
    if record.kind != "code":
        return False
    if record.level == CPT_CATEGORY_2:
        return True
    if record.system != "HCPCS" or record.section not in QUALITY_SECTIONS:
        return False
    return record.opps_status_indicator == NOT_BILLABLE_STATUS or record.code.startswith(QUALITY_MEASURE_PREFIX)


def is_private_payer_code(record: CodeRecord) -> bool:
    """An S code: a temporary national code Medicare does not accept, used by some private payers and Medicaid.
    Without a hospital setting the national code of like score comes first ("famotidine 20 mg iv": J1308
    before S0028); hospitals bill S codes to those payers from their chargemasters."""
    return record.kind == "code" and record.system == "HCPCS" and record.section == PRIVATE_PAYER_SECTION
