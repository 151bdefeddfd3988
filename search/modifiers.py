"""Codes as coders write them ("E0130-RR", "J9271 JW", "L3916-LT-RT"), their modifiers checked against the
modifier records the index holds, and the contradictions the descriptors themselves make knowable.

A modifier the index does not hold is an error naming it (a typo there changes what is billed). A numeric
modifier ("59") is a CPT modifier: the AMA's text, loaded only from a licensed file; without one it is
noted as not checked rather than refused. What the descriptors say:
- LT is "left side" and RT "right side": both on one line contradict each other (bilateral is its own
  modifier, or two lines);
- JW is "drug amount discarded" and JZ "zero drug amount discarded": one line cannot be both;
- RR ("use the 'RR' modifier when DME is to be rented"), NU (new equipment), UE (used durable medical
  equipment), LL (lease/rental of DME) and BP/BR/BU (the beneficiary's purchase-or-rent election) price
  durable medical equipment: on a code outside the DME sections (E, K) or a pump, they make no sense.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from codefinder.indexer.errors import QueryError
from codefinder.indexer.records import CodeRecord

# A code's shape: HCPCS Level II (E0130), CPT Category I (99213) or lettered CPT (0001F).
CODE_SHAPE = re.compile(r"[A-Z]\d{4}|\d{5}|\d{4}[FTU]")
MODIFIER_SHAPE = re.compile(r"[A-Z0-9]{2}")
SEPARATORS = re.compile(r"[\s\-,;:/|+]+")

CONTRADICTING_PAIRS: tuple[tuple[str, str], ...] = (("LT", "RT"), ("JW", "JZ"))
DME_PRICING_MODIFIERS = frozenset({"RR", "NU", "UE", "LL", "BP", "BR", "BU"})
DME_SECTIONS = frozenset({"E", "K"})
PUMP = re.compile(r"\bpump\b", re.IGNORECASE)


class ModifierError(QueryError):
    """A modifier the loaded code set does not know (422 over HTTP, one line on the CLI)."""


@dataclass(frozen=True)
class WrittenCode:
    """A code as written, split: the code itself and its modifiers, in the order written."""

    code: str
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModifierFinding:
    """Something the modifiers of a line say against themselves or the code."""

    kind: str  # modifier_conflict | pricing_modifier | modifier_status | modifier_unchecked
    message: str


def split_modifiers(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Modifiers given apart from the code: "RR NU", "RR,NU", ["RR", "NU"]."""
    if text is None:
        return ()
    parts = SEPARATORS.split(text) if isinstance(text, str) else [p for item in text for p in SEPARATORS.split(item)]
    return tuple(part.strip().upper() for part in parts if part.strip())


def parse_written_code(text: str, extra_modifiers: str | Iterable[str] | None = None) -> WrittenCode:
    """ "E0130-RR", "E0130 RR", "e0130rr", "L3916-LT-RT" → the code and its modifiers. Text that does not start
    with a code's shape stays one (unknown) code, as before modifiers were read; modifiers given apart are
    added after those written with the code, each once."""
    compact = text.strip().upper()
    parts = [part for part in SEPARATORS.split(compact) if part]
    written: tuple[str, ...] = ()
    code = compact
    if parts and CODE_SHAPE.fullmatch(parts[0]):
        code, written = parts[0], tuple(parts[1:])
    elif parts and len(parts) == 1 and len(compact) > 5 and CODE_SHAPE.fullmatch(compact[:5]):
        glued = compact[5:]  # "E0130RR": modifiers written without a separator
        if len(glued) % 2 == 0:
            code, written = compact[:5], tuple(glued[i : i + 2] for i in range(0, len(glued), 2))
    modifiers = tuple(dict.fromkeys((*written, *split_modifiers(extra_modifiers))))
    return WrittenCode(code, modifiers)


def checked_modifiers(
    modifiers: Sequence[str],
    lookup: Callable[[str], CodeRecord | None],
    cpt_modifiers_loaded: bool,
    name: str = "code",
) -> tuple[list[CodeRecord], list[ModifierFinding]]:
    """The modifier records, or a ModifierError naming the first modifier the index does not hold. A numeric
    modifier is a CPT modifier: checked when CPT modifiers are loaded, else noted as not checked."""
    records: list[CodeRecord] = []
    notes: list[ModifierFinding] = []
    for modifier in modifiers:
        if not MODIFIER_SHAPE.fullmatch(modifier):
            raise ModifierError(f"{name}: {modifier!r} is not a modifier (two letters or digits)")
        record = lookup(modifier)
        if record is not None and record.kind == "modifier":
            records.append(record)
        elif modifier.isdigit() and not cpt_modifiers_loaded:
            message = f"{modifier} is a CPT modifier; not checked (no CPT modifiers loaded)"
            notes.append(ModifierFinding("modifier_unchecked", message))
        else:
            raise ModifierError(f"{name}: unknown modifier {modifier!r}")
    return records, notes


def is_dme(record: CodeRecord) -> bool:
    """Durable medical equipment as the code set tells it: the DME sections (E, K), or a pump (B9002)."""
    return record.section in DME_SECTIONS or bool(PUMP.search(record.description))


def modifier_findings(code: CodeRecord, modifiers: Sequence[CodeRecord], day: dt.date) -> list[ModifierFinding]:
    """What the modifiers of one line contradict: each other (LT with RT), the code (a DME pricing modifier on
    a drug), or the date (a modifier no longer current)."""
    findings: list[ModifierFinding] = []
    given = [m.code for m in modifiers]
    for first, second in CONTRADICTING_PAIRS:
        if first in given and second in given:
            findings.append(
                ModifierFinding(
                    "modifier_conflict",
                    f"{first} ({_label(modifiers, first)}) and {second} ({_label(modifiers, second)}) on one line",
                )
            )
    pricing = [m for m in given if m in DME_PRICING_MODIFIERS]
    if pricing and not is_dme(code):
        findings.append(
            ModifierFinding(
                "pricing_modifier",
                f"{', '.join(pricing)} price{'s' if len(pricing) == 1 else ''} durable medical equipment; "
                f"{code.code} is not DME ({(code.section_name or code.level_label).lower()}: {_short(code)})",
            )
        )
    for modifier in modifiers:
        status = modifier.status_on(day)
        if status != "active":
            ended = f" (ended {modifier.termination_date})" if modifier.termination_date else ""
            findings.append(ModifierFinding("modifier_status", f"modifier {modifier.code} is {status}{ended}"))
    return findings


def _label(modifiers: Sequence[CodeRecord], code: str) -> str:
    record = next(m for m in modifiers if m.code == code)
    return _short(record)


def _short(record: CodeRecord) -> str:
    text = record.short_description or record.long_description or ""
    head = text.split(" (")[0]
    return head if len(head) <= 60 else head[:59] + "…"
