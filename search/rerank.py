"""Adjustments applied to fused scores before ordering: small, named, each with its own setting.

- dose agreement: a drug query's strength ("ketorolac 15 mg") favors the code billed per that dose
  ("Injection, ketorolac tromethamine, per 15 mg") over siblings per another dose; a service's time unit
  ("hbot per 30 min") likewise favors "… per 30 minute interval";
- route agreement: a drug query's route ("dexamethasone 10 mg iv", "ondansetron po") favors the code
  whose descriptor has that route ("Injection, …" vs "… oral …") over siblings by another route; a
  strength per single millilitre ("2 MG/ML") implies an injectable when no route word is given;
- negation agreement: "hospital bed with side rails" demotes the sibling "… without side rails …" that
  shares every word, "MRA abdomen without contrast" the sibling "with contrast", and "epo for esrd" the
  sibling "for non-esrd use";
- qualifier agreement: "fresh frozen plasma" or "leukoreduced red cells" demotes the sibling that is also
  "… irradiated", "… donor retested", "… HLA-matched": a processing or formulation qualifier the query does
  not state names another product than the plain one; likewise "for ESRD on dialysis" (stated by "esrd"
  or "dialysis") against the plain or "non-ESRD" sibling;
- hospital setting: when the caller says a hospital bills (``setting=hospital``), the OPPS device category
  C codes are preferred to the DMEPOS codes for the same implant (C1789 over L8600 for a breast implant);
- modifiers: two-character modifiers rank below procedure codes for a text query, since a coder
  describing a service wants its code (filter kind=modifier, or type the modifier, to get them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from codefinder.indexer.records import CodeRecord

DOSE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
UP_TO = re.compile(r"up to (\d+(?:\.\d+)?)\s*([a-z]+)")
CEILING = "<="  # marks a record's "up to X mg" dose: any query dose of at most X mg agrees with it
FLOOR = ">="  # "400 or greater mg/ml": any query dose of at least 400 mg agrees with it
# "300-399 mg/ml iodine": a band; stored as (399, "300<mg"), any query dose from 300 to 399 mg agrees
BAND = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*([a-z]+)")
OR_GREATER = re.compile(r"(\d+(?:\.\d+)?)\s*(?:or greater|or more|and above)\s*([a-z]+)")
NEAR_TOP_BAND = 0.7
DOSE_UNITS = {"mg", "mcg", "g", "ml", "unit", "meq", "mci", "uci", "l", "minute", "hour"}


# "level 2", "group III", "type 1": a numbered grade of a service or item, agreeing like a dose.
GRADE = re.compile(r"\b(level|group|type|stage|class|grade|tier)\s*(\d+|iii|ii|iv|i|v)\b")
ROMAN = {"i": 1.0, "ii": 2.0, "iii": 3.0, "iv": 4.0, "v": 5.0}


def parse_doses(text: str, unit_canonical: Mapping[str, str]) -> frozenset[tuple[float, str]]:
    """(amount, canonical unit) pairs found in text: '1,000 ml' -> (1000.0, 'ml'), '15MG' -> (15.0, 'mg'),
    and numbered grades: 'level 2' -> (2.0, 'level')."""
    found = {(ROMAN.get(number) or float(number), word) for word, number in GRADE.findall(text.lower())}
    for amount, unit in DOSE.findall(text.lower().replace(",", "")):
        canonical = unit_canonical.get(unit, unit)
        if canonical in DOSE_UNITS:
            try:
                found.add((float(amount), canonical))
            except ValueError:
                continue
    return frozenset(found)


def record_doses(record: CodeRecord, unit_canonical: Mapping[str, str]) -> frozenset[tuple[float, str]]:
    """The doses a code is billed per; "up to 4 mg" also yields (4.0, "<=mg"), a ceiling, "400 or greater
    mg/ml" (400.0, ">=mg"), a floor, and "300-399 mg/ml" (399.0, "300<mg"), a band."""
    text = " ".join(filter(None, [record.long_description, record.short_description, record.drug_dosage]))
    lowered = text.lower().replace(",", "")
    stated = " ".join(f"{amount} {unit}" for amount, unit in UP_TO.findall(lowered))
    ceilings = {(amount, CEILING + unit) for amount, unit in parse_doses(stated, unit_canonical)}
    floors = {
        (float(amount), FLOOR + unit_canonical.get(unit, unit))
        for amount, unit in OR_GREATER.findall(lowered)
        if unit_canonical.get(unit, unit) in DOSE_UNITS
    }
    bands = {
        (float(high), f"{float(low)}<{unit_canonical.get(unit, unit)}")
        for low, high, unit in BAND.findall(lowered)
        if unit_canonical.get(unit, unit) in DOSE_UNITS and float(low) < float(high)
    }
    return parse_doses(text, unit_canonical) | ceilings | floors | bands


def doses_agree(record: frozenset[tuple[float, str]], query: frozenset[tuple[float, str]]) -> bool:
    """A query dose equals one the code is billed per, or is within one of its "up to" ceilings."""
    if record & query:
        return True
    return any(_within(amount, unit, wanted, wanted_unit) for amount, unit in record for wanted, wanted_unit in query)


def _within(amount: float, unit: str, wanted: float, wanted_unit: str) -> bool:
    """A query dose inside a record's ceiling, floor or band."""
    if unit.startswith(CEILING):
        return unit[len(CEILING) :] == wanted_unit and wanted <= amount
    if unit.startswith(FLOOR):
        return unit[len(FLOOR) :] == wanted_unit and wanted >= amount
    low, band, band_unit = unit.partition("<")
    return bool(band) and band_unit == wanted_unit and float(low) <= wanted <= amount


def boost_agreeing(
    fused: dict[int, float],
    wanted: frozenset,  # type: ignore[type-arg]
    facts_of: Callable[[int], frozenset],  # type: ignore[type-arg]
    bonus: float,
    agrees: Callable[[frozenset, frozenset], bool] = lambda facts, wanted: bool(facts & wanted),  # type: ignore[type-arg]
) -> dict[int, float]:
    """Multiply by (1 + bonus) the rows close to the top (within ``NEAR_TOP_BAND`` of the best score) whose
    facts (doses, routes) agree with the query's (by default: share one): such a fact chooses between
    sibling codes of the drug the words found; it must not lift an unrelated drug that shares a dose or a route."""
    if not wanted or bonus <= 0 or not fused:
        return fused
    floor = max(fused.values()) * NEAR_TOP_BAND
    return {
        row: score * (1.0 + bonus) if score >= floor and agrees(facts_of(row), wanted) else score
        for row, score in fused.items()
    }


def penalize_near_top(fused: dict[int, float], conflicts: Callable[[int], bool], penalty: float) -> dict[int, float]:
    """Multiply by (1 - penalty) the rows close to the top (within ``NEAR_TOP_BAND`` of the best score) that
    contradict the query; like ``boost_agreeing``, it only reorders siblings the words already found."""
    if penalty <= 0 or not fused:
        return fused
    floor = max(fused.values()) * NEAR_TOP_BAND
    return {
        row: score * (1.0 - penalty) if score >= floor and conflicts(row) else score for row, score in fused.items()
    }


def apply_dose_agreement(
    fused: dict[int, float],
    query_doses: frozenset[tuple[float, str]],
    doses_of: Callable[[int], frozenset[tuple[float, str]]],
    bonus: float,
) -> dict[int, float]:
    """ "ketorolac 15 mg" favors "… per 15 mg" over the sibling per 30 mg; "hydromorphone 2 mg" favors
    "… up to 4 mg" over "… 0.1 mg"."""
    return boost_agreeing(fused, query_doses, doses_of, bonus, doses_agree)


# Words that name how a drug is given, as coders, clinicians and chargemasters write them.
INJECTED = "iv ivpb ivp im sq subq sc intravenous intramuscular subcutaneous injection injections inj injectable"
INFUSED = "infusion inf intrathecal"
# Pharmacy containers and dosage forms that only injectables come in: vials, ampules, prefilled syringes,
# pens and auto-injectors, powder for reconstitution (Epic/FDB "SOLR", "SOSY", "SOAJ", "SOPN"), premixed
# bags, and "PF" (preservative-free, said of injectables).
PARENTERAL_FORMS = "vial vials ampule ampules ampoule ampul amp syringe syringes solr sosy soaj sopn soct pf premix"
ORAL = "po oral orally tab tabs tablet tablets cap caps capsule capsules syrp syrup elix elixir tbec cpdr chew odt"
INHALED = "neb nebs nebu nebulizer nebulized inhalation inhaled inh inhl aers hfa mdi inhaler"
QUERY_ROUTE_WORDS: dict[str, str] = {
    **{word: "injection" for word in f"{INJECTED} {INFUSED} {PARENTERAL_FORMS}".split()},
    **{word: "oral" for word in ORAL.split()},
    **{word: "inhalation" for word in INHALED.split()},
}
# How HCPCS descriptors state the route.
RECORD_ROUTE_WORDS: dict[str, str] = {
    "injection": "injection",
    "infusion": "injection",
    "injectable": "injection",
    "oral": "oral",
    "inhalation": "inhalation",
}
WORD = re.compile(r"[a-z]+")


def query_routes(*texts: str) -> frozenset[str]:
    return frozenset(
        QUERY_ROUTE_WORDS[w] for text in texts for w in WORD.findall(text.lower()) if w in QUERY_ROUTE_WORDS
    )


# A strength per single millilitre ("4 MG/ML", "10,000 UNITS/ML") is how injectables are labelled; oral
# liquids are labelled per 5 ml ("4 MG/5 ML").
PER_MILLILITRE = re.compile(r"\d\s*(?:mg|mcg|g|gm|units?|meq|mmol)\s*/\s*(?:1\s*)?ml\b")


def concentration_route(text: str) -> frozenset[str]:
    """The route a drug order's concentration implies when it names none."""
    return frozenset({"injection"}) if PER_MILLILITRE.search(text.lower().replace(",", "")) else frozenset()


def record_routes(record: CodeRecord) -> frozenset[str]:
    text = " ".join(filter(None, [record.long_description, record.short_description])).lower()
    return frozenset(RECORD_ROUTE_WORDS[w] for w in WORD.findall(text) if w in RECORD_ROUTE_WORDS)


def apply_route_agreement(
    fused: dict[int, float],
    routes: frozenset[str],
    routes_of: Callable[[int], frozenset[str]],
    bonus: float,
) -> dict[int, float]:
    """ "dexamethasone 10 mg iv" favors "Injection, dexamethasone …" over the oral sibling."""
    return boost_agreeing(fused, routes, routes_of, bonus)


# "without X" (or "w/o X", "no X", "other than X") up to the next clause boundary; "with or without X"
# negates nothing.
NEGATED_CLAUSE = re.compile(
    r"(?<!or )\b(?:without|w/o|no|other than)\s+(.*?)(?=\s*\b(?:with|w/|and|or|for|per|followed|including)\b|[,;()]|$)"
)


# "non-esrd", "non-adjunctive", "non emergency": the word after "non" is negated.
NON_PREFIXED = re.compile(r"\bnon[-\s]?([a-z]+)")

Negations = tuple[frozenset[str], frozenset[str]]  # (stems said without, stems said otherwise)


def negation_facts(text: str, stems_of: Callable[[str], Sequence[str]]) -> Negations:
    """(stems said without, stems said otherwise) of a text."""
    lowered = text.lower()
    clauses = NEGATED_CLAUSE.findall(lowered) + NON_PREFIXED.findall(lowered)
    negated = frozenset(stem for clause in clauses for stem in stems_of(clause))
    rest = NON_PREFIXED.sub(" ", NEGATED_CLAUSE.sub(" ", lowered)).replace("without", " ")
    stated = frozenset(stems_of(rest))
    return negated - stated, stated - negated


def negations_conflict(record: Negations, query: Negations) -> bool:
    """The query wants what the record says it is without, or the other way round."""
    record_without, record_with = record
    query_without, query_with = query
    return bool(query_with & record_without) or bool(query_without & record_with)


def apply_negation_agreement(
    fused: dict[int, float],
    query: Negations,
    facts_of: Callable[[int], Negations],
    penalty: float,
) -> dict[int, float]:
    """Multiply by (1 - penalty) the near-top rows whose "without" contradicts the query."""
    return penalize_near_top(fused, lambda row: negations_conflict(facts_of(row), query), penalty)


# Blood-component processing (P codes), drug formulations, and patients a code is reserved for (ESRD on
# dialysis, congenital cardiac anomalies) that make a different, separately coded product or service:
# billed only when stated, so a query that does not state them means the plain one.
UNSTATED_QUALIFIERS = (
    "irradiated retested hla cmv pathogen washed deglycerolized liposome liposomal pegylated esrd congenital"
)

# A query that says one of these states the qualifier: "epogen for dialysis patient" means the ESRD code.
QUALIFIER_IMPLIED_BY = {"dialysi": "esrd", "hemodialysi": "esrd"}


def stated_qualifiers(query_stems: frozenset[str]) -> frozenset[str]:
    """The query's stems, plus the qualifiers its words imply."""
    return query_stems | {QUALIFIER_IMPLIED_BY[stem] for stem in query_stems if stem in QUALIFIER_IMPLIED_BY}


def apply_qualifier_agreement(
    fused: dict[int, float],
    query_stems: frozenset[str],
    qualifiers_of: Callable[[int], frozenset[str]],
    penalty: float,
) -> dict[int, float]:
    """Multiply by (1 - penalty) the near-top rows carrying a qualifier the query does not state."""
    return penalize_near_top(fused, lambda row: bool(qualifiers_of(row) - query_stems), penalty)


# HCPCS C codes C1000-C2999 are the OPPS device categories ("Catheter, hemodialysis/peritoneal, long-term",
# "Prosthesis, breast (implantable)"): hospitals report implanted devices with them (CMS's device-to-procedure
# edits require them), where a supplier would bill the DMEPOS L, A or E code for the same item.
OPPS_DEVICE_PREFIXES = ("C1", "C2")


def is_opps_device_category(record: CodeRecord) -> bool:
    return record.system == "HCPCS" and record.code.startswith(OPPS_DEVICE_PREFIXES)


# The DMEPOS sections a supplier bills implanted items under (L8600 breast prosthesis, E0782 infusion pump,
# A4290 sacral nerve test lead): in the hospital setting their device category C sibling comes first.
DMEPOS_SECTIONS = frozenset("AEKL")


def apply_hospital_devices(fused: dict[int, float], records: list[CodeRecord], bonus: float) -> dict[int, float]:
    """In the hospital setting, the near-top device category C codes rank above their near-top DMEPOS
    siblings: each gains ``bonus``, and more when needed to clear the best of those siblings (their order
    among themselves is kept). Without a near-top C code nothing changes."""
    if not fused or bonus <= 0:
        return fused
    floor = max(fused.values()) * NEAR_TOP_BAND
    near = [row for row, score in fused.items() if score >= floor]
    devices = [row for row in near if is_opps_device_category(records[row])]
    if not devices:
        return fused
    best_device = max(fused[row] for row in devices)
    siblings = [fused[row] for row in near if records[row].kind == "code" and records[row].section in DMEPOS_SECTIONS]
    lift = max(1.0 + bonus, (max(siblings) / best_device) * (1.0 + bonus / 10) if siblings else 0.0)
    return {row: score * lift if row in devices else score for row, score in fused.items()}


def apply_modifier_weight(fused: dict[int, float], records: list[CodeRecord], weight: float) -> dict[int, float]:
    if weight >= 1.0:
        return fused
    return {row: score * weight if records[row].kind == "modifier" else score for row, score in fused.items()}
