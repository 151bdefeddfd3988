"""Merge records from several sources into one record per (code system, code).

The rule: sources are applied in the order given, and the first source that gives a field a
value keeps it (so list the authoritative release first; the defaults do). Later sources fill
fields that are still empty, add synonyms (deduplicated, lower-cased) and may set the NOC flag.
A code only a later source knows (a new code in Addendum B) becomes a record of its own.
Disagreements are not errors; they are counted per field so the build can report them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from codefinder.indexer.records import CodeRecord

MERGED_SCALARS = tuple(
    f.name
    for f in fields(CodeRecord)
    if f.name not in {"code", "system", "level", "kind", "synonyms", "knowledge_terms", "noc", "sources"}
)


@dataclass
class MergeReport:
    records: list[CodeRecord]
    conflicts: Counter[str] = field(default_factory=Counter)


def merge_sources(batches: list[tuple[str, list[CodeRecord]]]) -> MergeReport:
    """Merge ``(source name, records)`` batches; the result is sorted by system then code."""
    merged: dict[tuple[str, str], CodeRecord] = {}
    conflicts: Counter[str] = Counter()
    for source_name, records in batches:
        for incoming in records:
            existing = merged.get(incoming.key)
            if existing is None:
                fresh = CodeRecord.from_dict({**incoming.__dict__, "synonyms": [], "sources": []})
                merged[incoming.key] = fresh
                existing = fresh
            else:
                _fill(existing, incoming, conflicts)
            _add_synonyms(existing, incoming.synonyms)
            existing.noc = existing.noc or incoming.noc
            if source_name not in existing.sources:
                existing.sources.append(source_name)
    ordered = sorted(merged.values(), key=lambda record: (record.system, record.kind, record.code))
    return MergeReport(records=ordered, conflicts=conflicts)


def _fill(existing: CodeRecord, incoming: CodeRecord, conflicts: Counter[str]) -> None:
    for name in MERGED_SCALARS:
        new_value = getattr(incoming, name)
        if new_value in (None, ""):
            continue
        old_value = getattr(existing, name)
        if old_value in (None, ""):
            setattr(existing, name, new_value)
        elif old_value != new_value:
            conflicts[name] += 1


def _add_synonyms(record: CodeRecord, synonyms: list[str]) -> None:
    known = {s.lower() for s in record.synonyms}
    for synonym in synonyms:
        normalized = " ".join(synonym.lower().split())
        if normalized and normalized not in known:
            known.add(normalized)
            record.synonyms.append(normalized)
