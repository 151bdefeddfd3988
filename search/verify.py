"""QA spot-check: is an assigned code consistent with its description, and does the line agree with itself?

The description is searched (hybrid, terminated codes included) and the assigned code is judged by the named
rules of ``search.verify_rules`` at the operating point of ``search.verify_policy`` (chosen from measured
rates by ``bench/verify_rates.py``): its calibrated confidence, a far likelier code, a section none of the
best hits share, an attribute it states otherwise than the description, a sibling billed per the stated
dose. Any rule firing makes it ``suspect``, with the better candidates and one line of why per rule. Unknown
codes, codes of CPT's form when no CPT file is loaded and terminated codes get verdicts of their own. Without
a calibration the code's rank decides instead.

A code is read as coders write it ("E0130-RR", "J9271 JW"): each modifier must be one the index holds (else
a ``ModifierError``), and contradictions the descriptors make knowable are flagged, as is a billed number of
units that the stated dose and the code's unit do not give (``units_mismatch``, with the arithmetic).
``verify_many`` answers many items exactly as ``verify`` would, searching each distinct description once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codefinder.indexer.attributes import agreement, attribute_text, is_dose_family
from codefinder.indexer.records import CodeRecord
from codefinder.search.billing_units import UnitsComputation, sibling_per_dose, units_for
from codefinder.search.cpt_intent import NOT_LOADED, cpt_code_level
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.hits import Hit
from codefinder.search.modifiers import (
    ModifierFinding,
    WrittenCode,
    checked_modifiers,
    modifier_findings,
    parse_written_code,
)
from codefinder.search.query import codes_with_prefix, normalize_query
from codefinder.search.run import QueryRun
from codefinder.search.verify_reasons import reason_for
from codefinder.search.verify_rules import Candidate, Conflict, Evidence, fired_rules
from codefinder.search.verify_successors import successors

VERDICTS = ("consistent", "suspect", "unknown_code", "terminated", "needs_cpt")
# The best hits the rules look at (the best other code, the sections the description reads as).
EVIDENCE_DEPTH = 5
# Siblings looked through for one billed per the stated dose (a drug's family of codes is far smaller).
MAX_SIBLINGS = 200
# On a JW line the billed units are the amount discarded, not the dose the description states.
UNITS_ARE_WASTE = "JW"


@dataclass(frozen=True)
class VerifyItem:
    """One line to check: its description, its code as written (modifiers may follow it), modifiers given
    apart, and the units billed."""

    description: str
    code: str
    modifiers: str | tuple[str, ...] | None = None
    units: float | None = None


@dataclass(frozen=True)
class Finding:
    """One line a reviewer reads: ``rule`` names what found it (a verdict rule, or a check of the line)."""

    rule: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class UnitsCheck:
    """The units billed, the units the stated dose gives in the code's unit, and how."""

    billed: float | None
    expected: UnitsComputation | None
    note: str | None = None  # why no units were expected, when the reason is known

    def to_dict(self) -> dict[str, Any]:
        computed = self.expected.to_dict() if self.expected else {}
        return {
            "billed": self.billed,
            "expected": computed.get("units"),
            "dose": computed.get("dose"),
            "per": computed.get("per"),
            "per_source": computed.get("per_source"),
            "how": computed.get("how", self.note),
        }


@dataclass
class Verification:
    description: str
    code: str
    verdict: str
    rank: int | None
    score: float | None
    confidence: float | None
    record: CodeRecord | None
    better_candidates: list[Hit] = field(default_factory=list)
    index_version: str = ""
    modifiers: list[str] = field(default_factory=list)
    reasons: list[Finding] = field(default_factory=list)  # why the verdict
    flags: list[Finding] = field(default_factory=list)  # what else the line says against itself
    units: UnitsCheck | None = None

    def to_dict(self, as_of: dt.date | None = None) -> dict[str, Any]:
        return {
            "description": self.description,
            "code": self.code,
            "modifiers": self.modifiers,
            "verdict": self.verdict,
            "rank": self.rank,
            "score": self.score,
            "confidence": self.confidence,
            "record": record_dict(self.record, as_of) if self.record else None,
            "better_candidates": [hit.to_dict() for hit in self.better_candidates],
            "reasons": [reason.to_dict() for reason in self.reasons],
            "flags": [flag.to_dict() for flag in self.flags],
            "units": self.units.to_dict() if self.units else None,
            "index_version": self.index_version,
        }


def record_dict(record: CodeRecord, as_of: dt.date | None = None) -> dict[str, Any]:
    """A record as the API shows it: every stored field, plus its level label and status."""
    return {
        **json.loads(record.to_json()),
        "level_label": record.level_label,
        "status": record.status_on(as_of or dt.date.today()),
    }


@dataclass(frozen=True)
class ParsedItem:
    """An item with its code split from its modifiers, the records found for both, and notes on modifiers."""

    item: VerifyItem
    written: WrittenCode
    record: CodeRecord | None
    modifiers: tuple[CodeRecord, ...]
    notes: tuple[ModifierFinding, ...]


def parse_item(engine: SearchEngine, item: VerifyItem, name: str = "code") -> ParsedItem:
    """The code and modifiers of one item, looked up; a ``ModifierError`` naming ``name`` for a modifier the
    index does not hold (checked before any search, so a batch fails before doing work)."""
    written = parse_written_code(item.code, item.modifiers)
    modifiers, notes = checked_modifiers(written.modifiers, engine.lookup, _cpt_loaded(engine, "cpt-modifier"), name)
    return ParsedItem(item, written, engine.lookup(written.code), tuple(modifiers), tuple(notes))


def verify(
    engine: SearchEngine,
    description: str,
    code: str,
    as_of: dt.date | None = None,
    candidates: int = 5,
    setting: str = "any",
    modifiers: str | tuple[str, ...] | None = None,
    units: float | None = None,
) -> Verification:
    parsed = parse_item(engine, VerifyItem(description, code, modifiers, units))
    if parsed.record is None:
        return unknown_code(engine, parsed)
    run = engine.run(description, verify_options(engine, as_of, setting))
    return judge(engine, run, parsed, candidates, top_candidates(engine, run))


def verify_many(
    engine: SearchEngine,
    pairs: Sequence[tuple[str, str] | VerifyItem],
    as_of: dt.date | None = None,
    candidates: int = 5,
    check: Callable[[], None] | None = None,
    setting: str = "any",
) -> list[Verification]:
    """Verify many (description, code) pairs or ``VerifyItem``s, each as ``verify`` would from the same query
    vector. Every code and modifier is checked first (a ``ModifierError`` names ``items[i].code``).
    Descriptions that normalize alike are searched once (QA files repeat them, each with several codes),
    and the searches are those of ``SearchEngine.run_many``: embedded in batches on a worker thread while
    earlier ones run. (The int8 model quantizes a batch as a whole, so a description embedded in a batch
    can score a little differently than embedded alone, as it did when batches were primed.)
    ``check`` is called between searches (a deadline check may raise there to stop the batch)."""
    items = [pair if isinstance(pair, VerifyItem) else VerifyItem(*pair) for pair in pairs]
    parsed = [parse_item(engine, item, f"items[{i}].code") for i, item in enumerate(items)]
    return list(verify_parsed(engine, parsed, as_of, candidates, check, setting))


def verify_parsed(
    engine: SearchEngine,
    parsed: Sequence[ParsedItem],
    as_of: dt.date | None = None,
    candidates: int = 5,
    check: Callable[[], None] | None = None,
    setting: str = "any",
) -> Iterator[Verification]:
    """``verify_many`` for items already parsed (a file's rows, each checked on its own), in order."""
    results: list[Verification | None] = [None] * len(parsed)
    groups: dict[str, list[int]] = {}
    for i, one in enumerate(parsed):
        if one.record is None:
            results[i] = unknown_code(engine, one)
        else:
            groups.setdefault(normalize_query(one.item.description), []).append(i)
    members = list(groups.values())
    # one description of each group, as given: run_many normalizes it exactly as verify's run would
    descriptions = [parsed[group[0]].item.description for group in members]
    for position, run in engine.run_many(descriptions, verify_options(engine, as_of, setting)):
        top = top_candidates(engine, run)
        for i in members[position]:
            results[i] = judge(engine, run, parsed[i], candidates, top)
        if check is not None:
            check()
    return (result for result in results if result is not None)


def verify_options(engine: SearchEngine, as_of: dt.date | None, setting: str = "any") -> SearchOptions:
    """A verification searches deep enough to rank the code, terminated codes included."""
    return SearchOptions(
        limit=engine.settings.verify_depth,
        mode="hybrid",
        filters=Filters(include_terminated=True, as_of=as_of),
        setting=setting,
    )


def _cpt_loaded(engine: SearchEngine, level: str) -> bool:
    return bool(engine.index.manifest.get("counts", {}).get("by_level", {}).get(level))


def unknown_code(engine: SearchEngine, parsed: ParsedItem) -> Verification:
    """A code the index does not hold: ``needs_cpt`` when it has CPT's form and no CPT codes of its level
    are loaded (the AMA's codes come only from a licensed file), else ``unknown_code``."""
    code = parsed.written.code
    level = cpt_code_level(code)
    if level is not None and not _cpt_loaded(engine, level):
        verdict, reason = "needs_cpt", Finding("needs_cpt", f"{code}: {NOT_LOADED}")
    else:
        verdict, reason = "unknown_code", Finding("unknown_code", f"{code} is not in the loaded code sets")
    return Verification(
        parsed.item.description,
        code,
        verdict,
        None,
        None,
        None,
        None,
        [],
        engine.index.build_id,
        list(parsed.written.modifiers),
        [reason],
        [Finding(note.kind, note.message) for note in parsed.notes],
        None,
    )


def top_candidates(engine: SearchEngine, run: QueryRun) -> tuple[Candidate, ...]:
    """The run's best text hits with their confidences: computed once per description."""
    found = []
    for row, score, match in run.ordered[:EVIDENCE_DEPTH]:
        record = engine.index.records[row]
        confidence = engine.confidence(run, row, score, match)
        found.append(Candidate(row, record.code, record.section, 0.0 if confidence is None else confidence))
    return tuple(found)


def evidence_for(
    engine: SearchEngine, run: QueryRun, description: str, record: CodeRecord, top: tuple[Candidate, ...]
) -> Evidence:
    """What the verdict rules look at for one code against one description's run."""
    row = engine.index.row_of_code[record.code]
    position = run.text_position.get(row)
    match = "code" if record.code in run.exact_codes else "text"
    confidence = engine.confidence(run, row, 0.0, match)
    return Evidence(
        code=record.code,
        section=record.section,
        rank=None if position is None else position + 1,
        confidence=0.0 if confidence is None else confidence,
        top=top,
        dose_sibling=sibling_per_dose(description, record, _siblings(engine, record, run.today)),
        successors=successors(record, (c.code for c in top), engine.lookup, run.today),
        conflicts=attribute_conflicts(engine, run, row, top),
    )


def attribute_conflicts(
    engine: SearchEngine, run: QueryRun, row: int, top: tuple[Candidate, ...]
) -> tuple[Conflict, ...]:
    """The attributes the description states that the code's descriptor states otherwise, each with the best
    hits stating it as the description does. Not doses (``dose_sibling`` reads those) nor volumes: a drug's
    "…, 1 ml" is the unit it is billed in, and "4 ML VIAL" is billed as 4 of them."""
    wanted = [
        a for a in engine.stated_attributes(run.rewritten) if not is_dose_family(a.family) and a.family != "volume"
    ]
    if not wanted:
        return ()
    _, conflicting = agreement(engine.facts.attributes(row), wanted)
    found = []
    for family in sorted(conflicting):
        agreeing = tuple(
            c.code for c in top if c.row != row and family in agreement(engine.facts.attributes(c.row), wanted)[0]
        )
        if agreeing:
            said = next(a for a in wanted if a.family == family)
            stated = [a for a in engine.facts.attributes(row) if a.family == family]
            found.append(
                Conflict(family, " / ".join(attribute_text(a) for a in stated), attribute_text(said), agreeing)
            )
    return tuple(found)


def _siblings(engine: SearchEngine, record: CodeRecord, day: dt.date) -> Iterator[CodeRecord]:
    """Current codes sharing the code's first three characters."""
    for code in codes_with_prefix(engine.index.sorted_codes, record.code[:3], MAX_SIBLINGS):
        sibling = engine.lookup(code)
        if sibling is not None and sibling.kind == record.kind and sibling.status_on(day) == "active":
            yield sibling


def judge(
    engine: SearchEngine,
    run: QueryRun,
    parsed: ParsedItem,
    candidates: int,
    top: tuple[Candidate, ...],
) -> Verification:
    """The verdict on one known code from its description's run, with the reasons, the line's flags (modifiers,
    units, status) and, unless consistent, the better candidates (hits are built only for those: the costly
    part of a hit is its explanation)."""
    record = parsed.record
    assert record is not None
    description = parsed.item.description
    row = engine.index.row_of_code[record.code]
    position = run.text_position.get(row)
    rank = None if position is None else position + 1
    score = None if position is None else round(run.text_rows[position][1], 6)
    evidence = evidence_for(engine, run, description, record, top)
    confidence = None if engine.calibration is None else evidence.confidence
    status = record.status_on(run.today)  # the run's day: as_of, else today
    reasons: list[Finding] = []
    if status == "terminated":
        verdict = "terminated"
        ended = f" on {record.termination_date}" if record.termination_date else ""
        reasons.append(Finding("terminated", f"{record.code} was terminated{ended}"))
    elif engine.verify_policy is not None and engine.calibration is not None:
        fired = fired_rules(evidence, engine.verify_policy)
        verdict = "suspect" if fired else "consistent"
        reasons += [Finding(rule, reason_for(rule, engine, run, record, evidence)) for rule in fired]
    elif consistent_by_rank(engine, run, row, rank):
        verdict = "consistent"
    else:
        verdict = "suspect"
        reasons.append(Finding("low_rank", f"{record.code} ranks {rank or 'below ' + str(len(run.ordered))}"))
    better: list[Hit] = []
    if verdict != "consistent":
        others = ((r, s, m) for r, s, m in run.ordered if r != row)
        better = [engine.hit(run, r, s, m) for r, s, m in itertools.islice(others, candidates)]
    flags = [Finding(note.kind, note.message) for note in parsed.notes]
    flags += [Finding(f.kind, f.message) for f in modifier_findings(record, parsed.modifiers, run.today)]
    if status not in ("active", "terminated"):
        # the recorded replacement, else the best-ranked current code for the same drug
        ranked = [c for c in record.replaced_by if c in evidence.successors]
        ranked += [c.code for c in evidence.top if c.code in evidence.successors] + sorted(evidence.successors)
        instead = f"; current code for it: {ranked[0]}" if ranked else ""
        flags.append(
            Finding("status", f"{record.code} is {status.replace('_', ' ')} on {run.today.isoformat()}{instead}")
        )
    units = units_check(description, record, parsed)
    if units is not None and units.expected is not None and units.billed not in (None, units.expected.units):
        expected = units.expected
        flags.append(
            Finding(
                "units_mismatch",
                f"dose {expected.dose} vs code unit {expected.per}: expected {expected.units}, "
                f"billed {units.billed:g} ({expected.explanation})",
            )
        )
    return Verification(
        description,
        record.code,
        verdict,
        rank,
        score,
        None if confidence is None else round(confidence, 4),
        record,
        better,
        engine.index.build_id,
        list(parsed.written.modifiers),
        reasons,
        flags,
        units,
    )


def units_check(description: str, record: CodeRecord, parsed: ParsedItem) -> UnitsCheck | None:
    """The billed units against those the stated dose gives in the code's unit; None when neither is known.
    On a JW line (drug amount discarded) the units are the waste, not the stated dose: not compared."""
    billed = parsed.item.units
    if UNITS_ARE_WASTE in parsed.written.modifiers:
        return None if billed is None else UnitsCheck(billed, None, "JW: the units billed are the amount discarded")
    expected = units_for(description, record) if record.kind == "code" else None
    if billed is None and expected is None:
        return None
    return UnitsCheck(billed, expected)


def consistent_by_rank(engine: SearchEngine, run: QueryRun, row: int, rank: int | None) -> bool:
    """Without a calibration: within ``verify_consistent_rank`` of the fused ranking, or within
    ``verify_retriever_rank`` of either retriever."""
    settings = engine.settings
    best_retriever = min((ranks[row] for ranks in run.rank_of.values() if row in ranks), default=None)
    return (rank is not None and rank <= settings.verify_consistent_rank) or (
        best_retriever is not None and best_retriever <= settings.verify_retriever_rank
    )
