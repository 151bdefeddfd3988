"""Merge records from several sources into one record per (code system, code).

The rule: sources are applied in the order given, and the first source that gives a field a
value keeps it (so list the authoritative release first; the defaults do). Later sources fill
fields that are still empty, add synonyms (deduplicated, lower-cased) and may set the NOC flag.
A code only a later source knows (a new code in Addendum B) becomes a record of its own.
Disagreements are not errors; they are counted per field so the build can report them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from codefinder.indexer.records import CodeRecord

NOT_MERGED = {"code", "system", "level", "kind", "synonyms", "knowledge_terms", "noc", "sources"}
# set after merging, from all sources together (indexer/currency.py)
DERIVED = {"missing_from", "missing_since", "replaced_by", "added_after"}
MERGED_SCALARS = tuple(f.name for f in fields(CodeRecord) if f.name not in NOT_MERGED | DERIVED)


@dataclass
class MergeReport:
    records: list[CodeRecord]
    conflicts: Counter[str] = field(default_factory=Counter)
    # per source: records that name a code no codes source gives (synonym-only and history files)
    unmatched: Counter[str] = field(default_factory=Counter)


def merge_sources(batches: list[tuple[str, list[CodeRecord]]], roles: Mapping[str, str] | None = None) -> MergeReport:
    """Merge ``(source name, records)`` batches; the result is sorted by system then code. ``roles`` says
    what a source's records are for (``indexer.sources.base.ROLES``, default ``codes``): a ``synonyms``
    source never adds a code, a ``history`` source only a code whose descriptor it carries."""
    merged: dict[tuple[str, str], CodeRecord] = {}
    conflicts: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    for source_name, records in batches:
        role = (roles or {}).get(source_name, "codes")
        for incoming in records:
            existing = merged.get(incoming.key)
            if existing is None and (role == "synonyms" or (role == "history" and not incoming.description)):
                unmatched[source_name] += 1
                continue
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
    return MergeReport(records=ordered, conflicts=conflicts, unmatched=unmatched)


def _fill(existing: CodeRecord, incoming: CodeRecord, conflicts: Counter[str]) -> None:
    for name in MERGED_SCALARS:
        new_value = getattr(incoming, name)
        if new_value in (None, ""):
            continue
        old_value = getattr(existing, name)
        if old_value in (None, ""):
            setattr(existing, name, new_value)
        elif not _same(old_value, new_value):
            conflicts[name] += 1


def _same(old: object, new: object) -> bool:
    """Texts that differ only in case or spacing (an upper-case and a mixed-case file) agree."""
    if isinstance(old, str) and isinstance(new, str):
        return " ".join(old.split()).casefold() == " ".join(new.split()).casefold()
    return old == new


def _add_synonyms(record: CodeRecord, synonyms: list[str]) -> None:
    known = {s.lower() for s in record.synonyms}
    for synonym in synonyms:
        normalized = " ".join(synonym.lower().split())
        if normalized and normalized not in known:
            known.add(normalized)
            record.synonyms.append(normalized)
