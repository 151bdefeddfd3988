"""Which current codes took over a code that newer lists no longer carry.

In April 2026 CMS replaced many drug codes by per-unit ones (J2001 "Injection, lidocaine hcl for intravenous
infusion, 10 mg" by J2003 "Injection, lidocaine hydrochloride, 1 mg"). A chargemaster written before then bills
the old code for a description that fits it. The new code ranks above it, so without this, verification
would call the old code ``suspect`` ("clearly outranked"). It is outdated, not wrong for the description,
and the reviewer is told so with the current code (a status flag). Its successors are the replacements the
build recorded, and the current codes near the top that bill the same drug.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from codefinder.indexer.records import CodeRecord

NOT_CURRENT = "not_in_current_lists"
# How a drug descriptor opens before it names the drug: "Injection, lidocaine hcl, …".
DRUG_OPENER = re.compile(r"^(?:injection|infusion|inhalation solution)\s*,\s*")
WORD = re.compile(r"[a-z]+")


def named_drug(record: CodeRecord) -> str | None:
    """The first word of the drug a drug code's descriptor names ("Injection, lidocaine hcl, …" -> lidocaine)."""
    text = (record.long_description or "").lower()
    if not DRUG_OPENER.match(text):
        return None
    words = WORD.findall(DRUG_OPENER.sub("", text))
    return words[0] if words else None


def successors(
    record: CodeRecord, candidates: Iterable[str], lookup: Callable[[str], CodeRecord | None], day: dt.date
) -> frozenset[str]:
    """Of ``candidates`` (codes), those that took over ``record`` when newer lists dropped it on ``day``: its
    recorded replacements, and current codes for the same drug. None for a code still current."""
    if record.status_on(day) != NOT_CURRENT:
        return frozenset()
    drug = named_drug(record)
    found = set(record.replaced_by)
    for code in candidates:
        other = lookup(code)
        if other is not None and drug is not None and other.status_on(day) == "active" and named_drug(other) == drug:
            found.add(code)
    return frozenset(found)
