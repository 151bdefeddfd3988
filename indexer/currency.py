"""Which Level II codes newer lists no longer carry, and what likely replaced them.

The July 2025 web list has no dates, and the full releases with dates end in 2020, so a code retired since
(J1030, methylprednisolone acetate 40 mg, now billed per 1 mg as J1010) would look current. Newer lists say
otherwise. OPPS Addendum B lists every current code of the sections it covers, whether OPPS pays for it or
not (status indicators say how), so in those sections a code that the newest covering list leaves out, and
that no list at least as new names (the ASP crosswalk, the NOC list), is marked ``missing_from`` those
lists, from the covering list's date on: its status is then ``not_in_current_lists``.

Which sections a list covers is set (``current_list_sections``: A B C E J K L P Q V) and checked on the data:
a section is only judged by a list that carries at least ``current_list_min_coverage`` of the section's
codes listed by the release before it, so a list that does not cover a section (H, S, T are never in
Addendum B; many G and M codes are not) never retires its codes. The coverage of every section is reported
in the manifest.

A likely replacement is linked when a current code of the same section names the same thing once the
amounts are set aside ("Injection, methylprednisolone acetate, 40 mg" and "…, 1 mg"), or, for a drug, names
it with fewer words (J0171 "adrenalin, epinephrine" and J0165 "epinephrine, not otherwise specified").
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codefinder.indexer.records import CodeRecord

# Addendum B's status indicator for a code discontinued that quarter: listed, but not in use.
DISCONTINUED = "D"
# An amount a drug or supply is billed per: "40 mg", "up to 4 mg", "per 30 ml", "10,000 units", "0.5%".
AMOUNT = re.compile(
    r"\b(?:up to |per )?\d[\d,.]*\s*(?:%|(?:million |billion )?(?:mg|mcg|gm?|grams?|ml|cc|units?|iu|meq|mmol|mci|uci"
    r"|kiu|micrograms?|milligrams?)\b)(?:\s*/\s*\d*\s*(?:ml|cc)\b)?"
)
# Words that say how a drug is given or packed, or that its code is the catch-all, not which drug it is.
FORM_WORDS = frozenset(
    re.findall(
        r"\S+",
        "injection injections inj infusion oral tablet tablets capsule capsules solution suspension powder for "
        "use and the of a an not otherwise specified classified nos noc unclassified each per up to dose doses "
        "mg mcg gm g ml cc units unit iu",
    )
)
WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PARENTHESES = re.compile(r"\(([^)]*)\)")
NOT_EQUIVALENT = re.compile(r"not therapeutically equivalent to [^,;]*")
ROUTE_WORDS = {"oral": {"oral", "orally"}, "injection": {"injection", "inj", "infusion", "intravenous"}}


@dataclass(frozen=True)
class DatedList:
    """One source file as evidence of what is current on its date: the codes it lists, whether it lists
    every code of every section (``complete``: a release or the web list), else the sections it claims to
    list completely (``covers``: Addendum B) or none (a partial list: the crosswalk, the NOC list)."""

    name: str
    date: dt.date
    keys: frozenset[tuple[str, str]]
    complete: bool = False
    covers: frozenset[str] = frozenset()


@dataclass
class CurrencyReport:
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    marked: int = 0
    by_section: dict[str, int] = field(default_factory=dict)
    replacements: int = 0
    added_after: int = 0

    def to_manifest(self) -> dict[str, Any]:
        return {
            "rule": "a code of a covered section that the newest covering list omits, and no list as new names",
            "coverage": self.coverage,
            "marked_not_in_current_lists": self.marked,
            "by_section": self.by_section,
            "with_likely_replacement": self.replacements,
            "add_date_inferred_from_lists": self.added_after,
        }


def listed_keys(records: Iterable[CodeRecord], drop_discontinued: bool = False) -> frozenset[tuple[str, str]]:
    return frozenset(
        r.key for r in records if not (drop_discontinued and (r.opps_status_indicator or "").upper() == DISCONTINUED)
    )


def check_coverage(
    records: list[CodeRecord], lists: list[DatedList], sections: str, min_coverage: float
) -> tuple[list[DatedList], dict[str, dict[str, Any]]]:
    """For each list that claims sections, keep the sections it really covers: the share of the section's
    codes (listed by an older complete list and not terminated on the list's date) it lists. Returns the
    lists with checked ``covers``, and the measured shares for every section."""
    codes_by_section: dict[str, list[CodeRecord]] = defaultdict(list)
    for record in records:
        if record.system == "HCPCS" and record.kind == "code" and record.section:
            codes_by_section[record.section].append(record)
    checked: list[DatedList] = []
    report: dict[str, dict[str, Any]] = {}
    complete = [item for item in lists if item.complete]
    for item in lists:
        if not item.covers or item.complete:
            checked.append(item)
            continue
        older = [other for other in complete if other.date < item.date]
        covered = set()
        for section, members in sorted(codes_by_section.items()):
            alive = [
                r
                for r in members
                if any(r.key in other.keys for other in older)
                and not (r.termination_date and r.termination_date < item.date.isoformat())
            ]
            if not alive:
                continue
            share = sum(1 for r in alive if r.key in item.keys) / len(alive)
            applied = section in item.covers and section in sections and share >= min_coverage
            report.setdefault(item.name, {})[section] = {
                "codes": len(alive),
                "listed": round(share, 3),
                "judged": applied,
            }
            if applied:
                covered.add(section)
        checked.append(DatedList(item.name, item.date, item.keys, covers=frozenset(covered)))
    return checked, report


def mark_missing(records: list[CodeRecord], lists: list[DatedList]) -> tuple[int, Counter[str]]:
    """Set ``missing_from`` / ``missing_since`` on every Level II code the newest list covering its section
    leaves out, unless a list at least as new names it. Terminated codes are left alone (their date says
    more)."""
    marked: Counter[str] = Counter()
    for record in records:
        if record.system != "HCPCS" or record.kind != "code" or not record.section:
            continue
        covering = [item for item in lists if item.complete or record.section in item.covers]
        if not covering:
            continue
        newest = max(covering, key=lambda item: item.date)
        if record.key in newest.keys:
            continue
        listed = [item.date for item in lists if record.key in item.keys]
        last_listed = max(listed, default=dt.date.min)
        if last_listed >= newest.date:
            continue
        if record.termination_date and record.termination_date < newest.date.isoformat():
            continue
        after = sorted((item for item in lists if last_listed < item.date < dt.date.max), key=lambda item: item.date)
        record.missing_from = [item.name for item in after]
        record.missing_since = min(item.date for item in covering if item.date > last_listed).isoformat()
        marked[record.section] += 1
    return sum(marked.values()), marked


def name_words(text: str) -> tuple[str, ...]:
    """A descriptor's words once amounts ("40 mg", "up to 4 mg", "per 30 ml") are set aside."""
    return tuple(WORD.findall(AMOUNT.sub(" ", text.lower())))


def qualifier_words(text: str) -> frozenset[str]:
    """Words that name a maker or a brand rather than the drug: in parentheses ("(fresenius kabi)"), or in a
    "not therapeutically equivalent to …" clause."""
    lowered = text.lower()
    inside = " ".join(PARENTHESES.findall(lowered) + NOT_EQUIVALENT.findall(lowered))
    return frozenset(WORD.findall(inside))


def routes(text: str) -> frozenset[str]:
    words = set(WORD.findall(text.lower()))
    return frozenset(route for route, said in ROUTE_WORDS.items() if words & said)


def link_replacements(records: list[CodeRecord], brand_generics: Mapping[str, list[str]] | None = None) -> int:
    """For each record marked missing, the current codes of its section that name the same drug or item:

    - the same words once amounts are set aside ("…, 40 mg" and "…, 1 mg"); else
    - for a drug (J, Q), the one current code by the same route whose naming words are all the retired
      code's, when the retired code's other words only name a maker or brand (J0610 "calcium gluconate
      (fresenius kabi)" -> J0612 "calcium gluconate, not otherwise specified"; J0171 "adrenalin,
      epinephrine" -> J0165 "epinephrine, not otherwise specified": adrenalin is a brand of epinephrine).
      A liposomal, extended-release or oral form is another product and is not linked."""
    brands = brand_generics or {}
    current = [
        r
        for r in records
        if r.system == "HCPCS" and r.kind == "code" and not r.missing_from and not r.termination_date and r.section
    ]
    by_words: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    naming: dict[str, list[tuple[frozenset[str], CodeRecord]]] = defaultdict(list)
    for record in current:
        words = name_words(record.description)
        by_words[(record.section or "", words)].append(record.code)
        named = frozenset(words) - FORM_WORDS
        if named:
            naming[record.section or ""].append((named, record))
    linked = 0
    for record in records:
        if not record.missing_from:
            continue
        words = name_words(record.description)
        same = [code for code in by_words.get((record.section or "", words), []) if code != record.code]
        if not same and record.section in ("J", "Q"):
            own = frozenset(words) - FORM_WORDS
            qualifiers = qualifier_words(record.description)
            route = routes(record.description)
            candidates = []
            for named, other in naming.get(record.section or "", []):
                extra = own - named
                brand_only = all(
                    word in qualifiers or any(set(g.split()) <= named for g in brands.get(word, ())) for word in extra
                )
                if named < own and brand_only and routes(other.description) == route:
                    candidates.append(other.code)
            same = candidates if len(candidates) == 1 else []
        if same:
            record.replaced_by = sorted(same)
            linked += 1
    return linked


def infer_added_after(records: list[CodeRecord], lists: list[DatedList]) -> int:
    """A Level II code without an add date that complete lists older than its first dated listing lack was
    added after the newest of them: J9277 is in the July 2025 list, not in the October 2020 release."""
    complete = [item for item in lists if item.complete]
    inferred = 0
    for record in records:
        if record.system != "HCPCS" or record.add_date:
            continue
        # its first listing in any dated list (a release, the web list, Addendum B); a code no dated list
        # carries (a user's own undated file) says nothing about when it was added
        listed = [item.date for item in lists if record.key in item.keys]
        if not listed:
            continue
        first = min(listed)
        lacking = [item.date for item in complete if item.date < first and record.key not in item.keys]
        if lacking:
            record.added_after = max(lacking).isoformat()
            inferred += 1
    return inferred


def apply_currency(
    records: list[CodeRecord],
    lists: list[DatedList],
    sections: str,
    min_coverage: float,
    brand_generics: Mapping[str, list[str]] | None = None,
) -> CurrencyReport:
    checked, coverage = check_coverage(records, lists, sections, min_coverage)
    marked, by_section = mark_missing(records, checked)
    replacements = link_replacements(records, brand_generics)
    added_after = infer_added_after(records, lists)
    return CurrencyReport(coverage, marked, dict(sorted(by_section.items())), replacements, added_after)
