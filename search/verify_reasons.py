"""One line of why, per verdict rule, in words a reviewer can check against the descriptors:

- dose_sibling: "dose 50 ml vs code unit 250 ml; P9043 is 50 ml";
- clearly_outranked: "E0601 is “Continuous positive airway pressure (cpap) device”; the description says
  “bipap” (bi-level …), as E0470–E0472 do";
- not_retrieved: "J2508 (“Injection, pegunigalsidase alfa-iwxj, 1 mg”) is not among the codes the
  description finds; the best is J2550 (“Injection, promethazine hcl, up to 50 mg”, confidence 0.84)";
- off_topic: "J9271 is drugs administered other than oral method; the description reads as durable medical
  equipment (E0130, E0141)";
- low_confidence: "E0130 barely matches the description (confidence 0.0001, below 0.0005)".

The contrast words are the description's words (or the expansions it was read through) that the better
codes match and the assigned code does not: the reason is the engine's own explanation, not a template.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from codefinder.indexer.records import CodeRecord
from codefinder.search.verify_rules import Candidate, Evidence

if TYPE_CHECKING:
    from codefinder.search.engine import SearchEngine
    from codefinder.search.run import QueryRun

MAX_WORDS = 3
MAX_CODES = 3
CODE_NUMBER = re.compile(r"([A-Z]*)(\d+)([A-Z]*)")
WORDS = re.compile(r"[\w-]+")


def reason_for(rule: str, engine: SearchEngine, run: QueryRun, record: CodeRecord, evidence: Evidence) -> str:
    if rule == "dose_sibling":
        return str(evidence.dose_sibling)
    if rule == "attribute_conflict":
        return "; ".join(
            f"{record.code} is {value_text(c.code_says, c.family)}; the description says {c.text_says}, as "
            f"{code_span(list(c.agreeing))} {'does' if len(c.agreeing) == 1 else 'do'}"
            for c in evidence.conflicts
        )
    if rule == "clearly_outranked":
        return _outranked(engine, run, record, evidence)
    if rule == "not_retrieved":
        return _not_retrieved(record, evidence)
    if rule == "off_topic":
        return _off_topic(engine, record, evidence)
    return _low_confidence(engine, record, evidence)


def value_text(value: str, family: str) -> str:
    """ "continuous (airway pressure)", but "without wheels": the family is said when the value does not say it."""
    return value if family in value else f"{value} ({family})"


def _outranked(engine: SearchEngine, run: QueryRun, record: CodeRecord, evidence: Evidence) -> str:
    better = evidence.likelier[:MAX_CODES]
    words = contrast_words(engine, run, record, better)
    codes = code_span([c.code for c in better])
    if words:
        verb = "does" if len(better) == 1 else "do"
        return f"{record.code} is “{_what(record)}”; the description says {words}, as {codes} {verb}"
    likelier = ", ".join(f"{c.code} ({c.confidence:.2f})" for c in better)
    return (
        f"{record.code} (“{_what(record)}”, confidence {confidence_text(evidence.confidence)}) "
        f"is far less likely than {likelier}"
    )


def _not_retrieved(record: CodeRecord, evidence: Evidence) -> str:
    best = evidence.likelier[0]
    return (
        f"{record.code} (“{_what(record)}”) is not among the codes the description finds; the best is "
        f"{best.code} (confidence {best.confidence:.2f})"
    )


def _off_topic(engine: SearchEngine, record: CodeRecord, evidence: Evidence) -> str:
    sections: dict[str | None, list[str]] = {}
    for candidate in evidence.top:
        sections.setdefault(candidate.section, []).append(candidate.code)
    _section, codes = max(sections.items(), key=lambda item: len(item[1]))
    kind = (engine.lookup(codes[0]).section_name if engine.lookup(codes[0]) else None) or "another kind of code"  # type: ignore[union-attr]
    own = (record.section_name or record.level_label).lower()
    return f"{record.code} is {own}; the description reads as {kind.lower()} ({', '.join(codes[:MAX_CODES])})"


def _low_confidence(engine: SearchEngine, record: CodeRecord, evidence: Evidence) -> str:
    policy = engine.verify_policy
    threshold = f", below {policy.low_confidence_below:g}" if policy else ""
    better = evidence.likelier[:MAX_CODES]
    best = f"; likelier: {', '.join(c.code for c in better)}" if better else ""
    return (
        f"{record.code} (“{_what(record)}”) barely matches the description "
        f"(confidence {confidence_text(evidence.confidence)}{threshold}){best}"
    )


def confidence_text(confidence: float) -> str:
    """ "0.0032", or "< 0.0001" rather than a row of zeros."""
    return f"{confidence:.4f}" if confidence >= 0.0001 else "< 0.0001"


def contrast_words(engine: SearchEngine, run: QueryRun, record: CodeRecord, better: Sequence[Candidate]) -> str:
    """The description's words the better codes match and ``record`` does not, quoted: a word as written
    ("wheels"), or a word read through an expansion with the expansion's distinctive words ("bipap" (respiratory
    assist, bi-level))."""
    explain = run.explain
    own = engine.facts.stems(engine.index.row_of_code[record.code])
    theirs = frozenset().union(*(engine.facts.stems(c.row) for c in better)) & explain.query_stems
    distinctive = theirs - own
    said: list[str] = []
    for word in run.rewritten.words:
        if not telling(word):
            continue
        if set(engine.facts.stems_of_text(word)) & distinctive and f"“{word}”" not in said:
            said.append(f"“{word}”")
    if said:  # the words as written say it best; expansions only when no word does
        return ", ".join(said[:MAX_WORDS])
    for expansion, stems in explain.expansion_stems:
        if not stems & distinctive or any(f"“{expansion.source}”" in item for item in said):
            continue
        targets = [w for w in WORDS.findall(expansion.target) if telling(w)]
        words = [w for w in targets if set(engine.facts.stems_of_text(w)) & distinctive]
        said.append(f"“{expansion.source}” ({' '.join(words[:MAX_WORDS])})")
    return ", ".join(said[:MAX_WORDS])


def telling(word: str) -> bool:
    """A word that can say what a thing is: not a number, a unit or a two-letter fragment ("500", "ml")."""
    return len(word) > 2 and not any(ch.isdigit() for ch in word)


def _what(record: CodeRecord) -> str:
    text = record.long_description or record.short_description or record.code
    return text if len(text) <= 70 else text[:69] + "…"


def code_span(codes: Sequence[str]) -> str:
    """ "E0470–E0472" for consecutive codes of one letter, else "E0472, E0470"."""
    if len(codes) < 2:
        return ", ".join(codes)
    parsed = [CODE_NUMBER.fullmatch(code) for code in codes]
    if all(parsed):
        keys = sorted((m.group(1), int(m.group(2)), m.group(3), m.group(2)) for m in parsed if m)
        same_shape = len({(k[0], k[2], len(k[3])) for k in keys}) == 1
        consecutive = all(b[1] - a[1] == 1 for a, b in itertools.pairwise(keys))
        if same_shape and consecutive:
            first, last = sorted(codes)[0], sorted(codes)[-1]
            return f"{first}–{last}"
    return ", ".join(codes)
