"""A mention's codes: which of the engine's ranked codes can bill it, in what order, with billing units
and modifiers.

The engine ranks descriptors against the mention's words; a billing suggestion also knows facts the
ranking does not weigh, each from CMS's own files:
- a quality-reporting code (the M section, G codes OPPS marks M) bills nothing and is left out;
- a drug the text says was taken by mouth has no injectable code (self-administered oral drugs have their
  own oral codes or none);
- the current OPPS Addendum B lists every code Medicare uses now: a drug code CMS has replaced (J3370
  vancomycin 500 mg by J3373 10 mg, still in the HCPCS release without dates) or an S or T code (other
  payers') comes after the listed ones;
- a code whose descriptor the mention's own name opens ("iv pole" -> E0776 "Iv pole") comes before codes
  that only share its other words ("… for home infusion" -> an infusion service);
- a drug code for a particular product or use ("(baxter), not therapeutically equivalent to j0690",
  "(heparin lock flush)") or a combination ("albuterol … and ipratropium …") comes after the plain code
  of the same drug, unless the text names the product, the use or the other drug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from codefinder.indexer.records import CodeRecord
from codefinder.search.billing_units import UnitsComputation, billing_unit, count_units, units_for
from codefinder.search.engine import SearchEngine
from codefinder.search.rerank import record_routes
from codefinder.search.run import QueryRun
from codefinder.search.suggest.attributes import Attributes, dose_text, rate_positions
from codefinder.search.suggest.lexicon import (
    BILLABLE_SECTIONS,
    MentionLexicon,
    listed,
    normal,
    reporting_only,
    words_of,
)
from codefinder.search.suggest.segments import tokenize

PRODUCT = re.compile(r"\(([^)]+)\)")
NOT_EQUIVALENT = re.compile(r"not therapeutically equivalent to", re.IGNORECASE)
# "albuterol, up to 2.5 mg and ipratropium bromide…", "ampicillin sodium/sulbactam sodium", "acetaminophen
# 10 mg and ibuprofen 3 mg": the drug named after "and" or a slash.
COMBINED = re.compile(r"(?:\band\b|/)\s*([a-z][a-z-]{3,})", re.IGNORECASE)
# Modifiers a stated side calls for, on the sections of paired items (orthoses and prostheses, DME and its
# supplies): CMS's LT and RT, both for a bilateral item billed on two lines.
SIDE_SECTIONS = frozenset("LEKA")
MIN_COVERED = 2  # describing stems a descriptor must hold all of to match a mention outright
MIN_CANDIDATES = 20  # the engine's first codes a mention's codes are chosen and ordered from
SIDE_MODIFIERS = {"left": ["LT"], "right": ["RT"], "bilateral": ["LT", "RT"]}


def _about(text: str) -> dict[str, str]:
    """Field metadata: the description the HTTP schema (``api.schemas.SuggestedCodeOut``) shows."""
    return {"description": text}


@dataclass
class SuggestedCode:
    """One candidate code for a mention."""

    code: str
    system: str = field(metadata=_about("HCPCS or CPT"))
    section: str | None = field(metadata=_about("the section letter (E, J, L…) of a HCPCS Level II code"))
    description: str
    short_description: str | None
    status: str = field(metadata=_about("active or terminated (on the as-of date)"))
    confidence: float | None = field(metadata=_about("calibrated probability that this code is right"))
    confidence_band: str | None = field(metadata=_about("high, possible or unlikely, as on a search hit"))
    units: dict[str, object] | None = field(
        default=None,
        metadata=_about(
            "billing units the stated dose or count comes to: units, dose, per (one unit of the code), "
            "per_source (descriptor or crosswalk) and how (the arithmetic in words); null when nothing is stated"
        ),
    )
    modifiers: list[str] = field(
        default_factory=list, metadata=_about("modifiers the text supports for this code (LT/RT for a stated side)")
    )
    noc: bool = field(default=False, metadata=_about("a 'not otherwise classified' code"))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Choice:
    """A mention's codes, best first, and what decides whether it is reported: the best confidence of a
    code that can bill it, and of such a code that matches the mention outright — its own name opens the
    code's descriptor, the mention names what the descriptor opens with ("eyeglass frames" / "Frames,
    purchases"), or the descriptor holds every word the mention describes the item with."""

    codes: list[SuggestedCode]
    best: float | None
    best_matched: float | None


def choose_codes(
    engine: SearchEngine,
    run: QueryRun,
    attributes: Attributes,
    text: str,
    anchors: tuple[str, ...],
    content: frozenset[str],
    limit: int,
    billable_only: bool = True,
) -> Choice:
    """The codes of one search for one mention (``text``: its words; ``anchors``: the lexicon phrases
    that found it; ``content``: the stems of the words describing the item), ordered as the module
    describes, the first ``limit`` of them."""
    lexicon = engine.mention_lexicon
    candidates = run.ordered[: max(limit, MIN_CANDIDATES)]
    records = [engine.index.records[row] for row, _, _ in candidates]
    named = frozenset().union(*(lexicon.named.get(a, frozenset()) for a in anchors)) if anchors else frozenset()
    keep = [
        i
        for i, record in enumerate(records)
        if not (billable_only and reporting_only(record)) and not _wrong_route(record, attributes)
    ]
    # stable sorts: the engine's order within each group
    if keep and named and not _covers(records[keep[0]], anchors, named):
        keep.sort(key=lambda i: records[i].code not in named)
    if lexicon.statuses_known:
        keep.sort(key=lambda i: not listed(records[i]))
    lowered = text.lower()
    order = _after_general([records[i] for i in keep], lowered, lexicon)
    # the mention's words and what the engine read them as ("picc" -> "… central venous catheter")
    said = frozenset(words_of(" ".join([text, *(e.target for e in run.rewritten.expansions)])))
    codes: list[SuggestedCode] = []
    best = best_matched = None
    for position in order[:limit]:
        row, score, match = candidates[keep[position]]
        record = records[keep[position]]
        confidence = engine.confidence(run, row, score, match)
        codes.append(
            SuggestedCode(
                code=record.code,
                system=record.system,
                section=record.section,
                description=record.description,
                short_description=record.short_description,
                status=record.status_on(run.today),
                confidence=None if confidence is None else round(confidence, 4),
                confidence_band=engine.confidence_band(confidence),
                units=_units(text, record, attributes),
                modifiers=_modifiers(record, attributes),
                noc=record.is_noc(),
            )
        )
        if confidence is not None and _can_bill(record, lexicon.statuses_known):
            best = confidence if best is None else max(best, confidence)
            head = lexicon.heads.get(record.code)
            matched = (
                record.code in named
                or bool(head and head <= said)  # the mention names what the descriptor opens with
                or (len(content) >= MIN_COVERED and content <= engine.facts.stems(row))
            )
            if matched:
                best_matched = confidence if best_matched is None else max(best_matched, confidence)
    return Choice(codes, best, best_matched)


def _covers(record: CodeRecord, anchors: tuple[str, ...], named: frozenset[str]) -> bool:
    """Is the record one the mention's name opens, or one whose words include a whole anchor phrase?"""
    if record.code in named:
        return True
    words = set(words_of(" ".join([record.description, *record.synonyms, *record.knowledge_terms])))
    return any(all(w in words for w in anchor.split()) for anchor in anchors)


def _wrong_route(record: CodeRecord, attributes: Attributes) -> bool:
    if attributes.route != "oral":
        return False
    routes = record_routes(record)
    return "injection" in routes and "oral" not in routes


def _can_bill(record: CodeRecord, statuses_known: bool) -> bool:
    """A code that may stand for a billable item: in a billing section, not a quality measure, and (when
    the index knows statuses) listed now — a G code too, since many quality G codes are listed nowhere."""
    if record.system != "HCPCS":
        return True
    return record.section in BILLABLE_SECTIONS and not reporting_only(record) and (not statuses_known or listed(record))


def _after_general(records: list[CodeRecord], text: str, lexicon: MentionLexicon) -> list[int]:
    """Positions in order, each product-specific or combination code moved just after the first later
    code of the same drug that is neither, when the text names neither the product nor the other drug."""
    order = list(range(len(records)))
    said = frozenset(words_of(text))
    for i, record in enumerate(records):
        if not _specific_beyond(record, said, lexicon):
            continue
        drug = _drug_word(record)
        target = next(
            (
                j
                for j in order[order.index(i) + 1 :]
                if drug
                and _drug_word(records[j]) == drug  # the same drug, not a code merely naming it ("… serum albumin")
                and not _specific_beyond(records[j], said, lexicon)
            ),
            None,
        )
        if target is not None:
            order.remove(i)
            order.insert(order.index(target) + 1, i)
    return order


@dataclass(frozen=True)
class _DrugFacts:
    """What a drug descriptor says beyond the drug: products or uses in parentheses, a second drug, and
    whether it is a product "not therapeutically equivalent" to another code."""

    drug: bool
    products: tuple[frozenset[str], ...]
    others: tuple[str, ...]
    not_equivalent: bool
    brands: frozenset[str]


def _drug_facts(record: CodeRecord) -> _DrugFacts:
    names = (*record.synonyms, *record.knowledge_terms)
    return _drug_facts_of(record.description, record.section, bool(record.drug_dosage), names)


@lru_cache(maxsize=8192)
def _drug_facts_of(description: str, section: str | None, dosage: bool, names: tuple[str, ...]) -> _DrugFacts:
    """Cached by what the facts are read from (a record itself is mutable, so not hashable)."""
    description = description.lower()
    drug = section == "J" or dosage or description.startswith(("injection", "infusion"))
    own = set(words_of(PRODUCT.sub(" ", description)))
    products = tuple(
        frozenset(w for w in words_of(product) if len(w) > 3 and w.isalpha()) - own
        for product in PRODUCT.findall(description)
        if not product.startswith("e.g")
    )
    others = tuple(normal(w) for w in COMBINED.findall(PRODUCT.sub(" ", description)))
    brands = frozenset(w for name in names for w in words_of(name) if len(w) > 3) - own  # not "iv" of "… iv"
    return _DrugFacts(drug, products, others, bool(NOT_EQUIVALENT.search(description)), brands)


def _specific_beyond(record: CodeRecord, said: frozenset[str], lexicon: MentionLexicon) -> bool:
    """Does a drug code stand for more than the text says (``said``: its words): a product or use its
    descriptor names in parentheses ("(baxter)", "(heparin lock flush)"), or a second drug ("… and
    ipratropium")? Not when the text names it."""
    facts = _drug_facts(record)
    if not facts.drug:
        return False
    if facts.not_equivalent:  # a 505(b)(2) product: only when the text names it
        return not any(words & said for words in facts.products)
    if any(words and not words & said for words in facts.products):
        return True
    if facts.brands & said:  # a brand names the combination ("zosyn")
        return False
    return any(other in lexicon.drug_words and other not in said for other in facts.others)


def _drug_word(record: CodeRecord) -> str | None:
    words = words_of(re.sub(r"^(injection|infusion)\s*,\s*", "", record.description.lower()))
    return next((w for w in words if w.isalpha()), None)


def _units(text: str, record: CodeRecord, attributes: Attributes) -> dict[str, object] | None:
    """Billing units of ``record`` for what the mention states: its dose in the code's unit, else a count
    of pieces in the descriptor's count."""
    computed: UnitsComputation | None = None
    if billing_unit(record) is not None:
        computed = units_for(dose_text(_without_rate(text)), record)
    if computed is None and attributes.quantity is not None:
        computed = count_units(attributes.quantity, record)
    return None if computed is None else computed.to_dict()


def _without_rate(text: str) -> str:
    tokens = tokenize(text)
    rates = rate_positions(tokens)
    return " ".join(t.text for i, t in enumerate(tokens) if i not in rates)


def _modifiers(record: CodeRecord, attributes: Attributes) -> list[str]:
    if attributes.side is None or record.section not in SIDE_SECTIONS:
        return []
    return list(SIDE_MODIFIERS[attributes.side])
