"""Adjustments applied to fused scores before ordering: small, named, each with its own setting.

- dose agreement: a drug query's strength ("ketorolac 15 mg") favors the code billed per that dose
  ("Injection, ketorolac tromethamine, per 15 mg") over siblings per another dose, or, when none states it,
  the sibling whose billing unit makes it in the fewest whole units;
- attribute agreement: the sizes, capacities, pressures, ages, durations and modes a query states
  (``indexer.attributes``) favor the siblings stating them and demote those stating others;
- base item first: parts, accessories and special variants (``indexer.roles``) rank below the base item
  unless the query names them;
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

import math
import re
from collections.abc import Callable, Sequence

from codefinder.indexer.attributes import Attribute, agreement, dose_multiple, is_dose_family
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.roles import NOT_OTHERWISE, Role
from codefinder.indexer.text import analyze, descriptors

NEAR_TOP_BAND = 0.7
NUMBER_STEM = re.compile(r"[\d.,/]+")


def near_top(fused: dict[int, float]) -> list[int]:
    """The rows within ``NEAR_TOP_BAND`` of the best score: the siblings a reranking rule may reorder."""
    floor = max(fused.values()) * NEAR_TOP_BAND
    return [row for row, score in fused.items() if score >= floor]


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
    query: tuple[Attribute, ...],
    attributes_of: Callable[[int], tuple[Attribute, ...]],
    bonus: float,
    other_drugs: frozenset[int] = frozenset(),
) -> dict[int, float]:
    """ "ketorolac 15 mg" favors "… per 15 mg" over the sibling per 30 mg; "hydromorphone 2 mg" favors
    "… up to 4 mg" over "… 0.1 mg". When no near-top sibling states the dose, the one whose billing unit makes
    it in the fewest whole units does: "heparin 5000 units" is 5 x "per 1000 units", not 500 x "per 10 units".
    A dose chooses between codes of the drug the query names: ``other_drugs`` (codes of another drug, see
    ``search.drug_names``) take no part ("venofer 100 mg" is iron sucrose per 1 mg, not iron dextran per 50 mg)."""
    doses = tuple(a for a in query if is_dose_family(a.family))
    if not doses or bonus <= 0 or not fused:
        return fused
    near = [row for row in near_top(fused) if row not in other_drugs]
    agreeing = {row for row in near if agreement(attributes_of(row), doses)[0]}
    if not agreeing:
        multiples = {row: dose_multiple(attributes_of(row), doses) for row in near}
        fewest = min(multiples.values(), default=math.inf)
        agreeing = {row for row, count in multiples.items() if count == fewest} if fewest < math.inf else set()
    return {row: score * (1.0 + bonus) if row in agreeing else score for row, score in fused.items()}


Agreements = dict[int, tuple[frozenset[str], frozenset[str]]]  # row -> (families agreeing, families conflicting)


def attribute_agreements(
    fused: dict[int, float], query: tuple[Attribute, ...], attributes_of: Callable[[int], tuple[Attribute, ...]]
) -> Agreements:
    """For each near-top row, the attribute families (doses aside) it agrees with the query on, and those it
    contradicts."""
    if not query or not fused:
        return {}
    floor = max(fused.values()) * NEAR_TOP_BAND
    agreements: Agreements = {}
    for row, score in fused.items():
        if score >= floor:
            agrees, conflicts = agreement(attributes_of(row), query)
            agreements[row] = (frozenset(f for f in agrees if not is_dose_family(f)), conflicts)
    return agreements


def apply_attribute_agreement(
    fused: dict[int, float], agreements: Agreements, bonus: float, penalty: float
) -> dict[int, float]:
    """Near-top siblings that state what the query asks for ("4x4": "16 sq. in. or less"; "400 lb": "weight
    capacity greater than 350 pounds"; "bifocal") score (1 + bonus) more per family; those stating something
    else ("300 mg/ml": "400 or greater mg/ml") score (1 - penalty) less. Agreeing doses are
    ``apply_dose_agreement``'s."""
    if not agreements or (bonus <= 0 and penalty <= 0):
        return fused
    adjusted = dict(fused)
    for row, (agrees, conflicts) in agreements.items():
        adjusted[row] = fused[row] * (1.0 + bonus) ** len(agrees) * (1.0 - penalty) ** len(conflicts)
    return adjusted


# A query with one of these words asks for a part or an accessory whatever it is.
PART_REQUESTS = frozenset(
    analyze(
        "accessory accessories attachment part parts replacement addition component supplies "
        # a service about an item ("hearing aid candidacy evaluation": "Assessment for hearing aid")
        "assessment evaluation fitting"
    )
)


def naming_words(role: Role, query_stems: frozenset[str]) -> frozenset[str]:
    """The query's words that name what a part is: "seat" in "walker seat" for "Seat attachment, walker";
    none in "commode" for "Commode seat, wheelchair" (a seat, for a wheelchair)."""
    return query_stems & set(role.part_nouns)


def unstated_variants(role: Role, query_stems: frozenset[str], base_names: frozenset[str]) -> bool:
    """The record is a special variant ("institutional", "pediatric", a maker's own code…) the query does not
    state, by the variant's words or by a word of the record's own ("epbx", "zilretta") that no near-top
    plain sibling has."""
    own = {stem for stem in set(role.own_names) - base_names if not NUMBER_STEM.fullmatch(stem)}
    if (query_stems - ROUTE_STEMS) & own:  # a number ("1 each", "1 mg") names no product
        return False
    return any(not (query_stems & set(stems)) for _, stems in role.variants)


def apply_base_item_first(
    fused: dict[int, float],
    query_stems: frozenset[str],
    role_of: Callable[[int], Role],
    part_penalty: float,
    variant_penalty: float,
    named_part_penalty: float = 0.0,
    specified: frozenset[int] = frozenset(),
    described: Callable[[int], frozenset[str]] | None = None,
) -> dict[int, float]:
    """A query naming an item wants the item: near-top parts and accessories whose part the query does not
    name ("walker": "Seat attachment, walker"; "pulse oximeter": "Oxygen probe for use with oximeter device")
    score (1 - part_penalty) less, when a base item is near the top too. A query that does name a part
    ("cpap filter") wants it: near-top base items that the part goes with (their descriptor, ``described``,
    else their head, shares a word with the part's host) and that lack the words naming it score
    (1 - named_part_penalty) less ("… glucose monitor or receiver" names a receiver). Special variants the
    query does not state ("hospital bed": "… institutional type") score (1 - variant_penalty)
    less, unless they are what the query's attributes ask for (``specified``: "bed for a 500 lb patient"
    states the heavy-duty bed by its weight), and only in favour of a plain item near the top that has as many
    of the query's words: "rib belt" keeps "Thoracic, rib belt, custom fabricated" first, there being no plain
    rib belt."""
    if not fused or (part_penalty <= 0 and variant_penalty <= 0 and named_part_penalty <= 0):
        return fused
    floor = max(fused.values()) * NEAR_TOP_BAND
    near = {row: role_of(row) for row, score in fused.items() if score >= floor}
    # the words that name what the query wants: not its route ("iv") or its numbers ("1 each")
    naming_stems = frozenset(stem for stem in query_stems - ROUTE_STEMS if not NUMBER_STEM.fullmatch(stem))
    matched = {row: naming_stems & set(role.own_names) for row, role in near.items()}
    bases = any(not role.part for role in near.values())
    plain = [matched[row] for row, role in near.items() if not role.variants]
    asked = bool(query_stems & PART_REQUESTS)
    named = {row: naming_words(role, query_stems) for row, role in near.items() if role.part}
    naming = frozenset().union(*named.values()) if named else frozenset()
    # what the named parts go with: only such an item gives way to its part ("cpap filter": the CPAP device,
    # not every item lacking a filter); a part that names no host goes with any
    hosts = [frozenset(near[row].host) for row, words in named.items() if words]
    base_names = frozenset(name for role in near.values() if not role.variants for name in role.own_names)
    wanted_variant = stated_variant_words(near, naming_stems)
    adjusted = dict(fused)
    for row, role in near.items():
        factor = 1.0
        words = (described(row) if described else frozenset(role.head)) if naming and not role.part else None
        if role.part and bases and not asked and not named[row]:
            factor *= 1.0 - part_penalty  # an accessory of what the query names
        elif words is not None and not naming & words and any(not host or host & words for host in hosts):
            factor *= 1.0 - named_part_penalty  # the item a named part goes with, not naming it itself
        if (
            role.variants
            and row not in specified
            and unstated_variants(role, query_stems, base_names)
            and any(len(base) >= len(matched[row]) for base in plain)
        ):
            factor *= 1.0 - variant_penalty
        elif wanted_variant and not role.variants and not wanted_variant & set(role.own_names):
            factor *= 1.0 - variant_penalty  # the plain item, when the query states a variant's own word
        adjusted[row] = fused[row] * factor
    return adjusted


# Added words that change what the shorter descriptor says rather than qualify it: a bound ("more than 16 sq.
# in."), a negation ("not meeting criteria", "non-compounded"), a number: such siblings are told apart by their
# attributes and negations, not by this rule.
NOT_QUALIFYING = frozenset(
    re.findall(
        r"\w+", "non not no without more less than greater over under up to least equal exceeding only other and or but"
    )
)
DESCRIPTOR_WORD = re.compile(r"[a-z0-9]+")


def descriptor_words(text: str) -> frozenset[str]:
    """A descriptor's words as written (stop words, numbers and negations kept: "not" changes what it says)."""
    return frozenset(DESCRIPTOR_WORD.findall(text.lower()))


def apply_plain_sibling_first(
    fused: dict[int, float],
    query_stems: frozenset[str],
    words_of: Callable[[int], frozenset[str]],
    stems_of: Callable[[int], frozenset[str]],
    penalty: float,
) -> dict[int, float]:
    """A descriptor that is a near-top sibling's descriptor plus qualifiers ("Red blood cells, leukocytes reduced,
    each unit" beside "Red blood cells, each unit") is the qualified item: when the query states none of the
    added words, nor any other word (a brand, a synonym) that only the qualified item has, it scores
    (1 - penalty) less. Read from the descriptors themselves, whatever the qualifier."""
    if penalty <= 0 or len(fused) < 2:
        return fused
    floor = max(fused.values()) * NEAR_TOP_BAND
    near = {row: words_of(row) for row, score in fused.items() if score >= floor}
    adjusted = dict(fused)
    for row, words in near.items():
        for other_row, other in near.items():
            added = words - other
            if (
                other_row != row
                and other
                and other < words
                and not added & NOT_QUALIFYING
                and not any(word.isdigit() for word in added)
                and not query_stems & (stems_of(row) - stems_of(other_row))
            ):
                adjusted[row] = fused[row] * (1.0 - penalty)
                break
    return adjusted


def stated_variant_words(near: dict[int, Role], naming_stems: frozenset[str]) -> frozenset[str]:
    """The words marking a near-top variant that the query states ("rituximab-pvvr", "institutional bed"): the
    query asks for that variant, not the plain item. A catch-all's words ("other") mark no variant."""
    found: set[str] = set()
    for role in near.values():
        for name, stems in role.variants:
            if name != NOT_OTHERWISE:
                found |= naming_stems & set(stems)
    return frozenset(found)


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
# The words that say how a drug is given: every injectable's descriptor can state its route, so a route word
# makes no code more the item the query names ("midazolam … intravenous" is not more midazolam).
ROUTE_STEMS = frozenset(analyze(" ".join([*QUERY_ROUTE_WORDS, *RECORD_ROUTE_WORDS, "intravenously"])))


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
    return frozenset(
        RECORD_ROUTE_WORDS[w] for w in WORD.findall(descriptors(record).lower()) if w in RECORD_ROUTE_WORDS
    )


def apply_route_agreement(
    fused: dict[int, float],
    routes: frozenset[str],
    routes_of: Callable[[int], frozenset[str]],
    bonus: float,
) -> dict[int, float]:
    """ "dexamethasone 10 mg iv" favors "Injection, dexamethasone …" over the oral sibling."""
    return boost_agreeing(fused, routes, routes_of, bonus)


def apply_route_conflict(
    fused: dict[int, float],
    routes: frozenset[str],
    routes_of: Callable[[int], frozenset[str]],
    penalty: float,
) -> dict[int, float]:
    """ "methadone 10 mg tabs" demotes "Injection, methadone …": a near-top code whose descriptor states only
    routes other than the query's is another product (the bonus above lifts the agreeing sibling; this
    keeps a disagreeing one from staying ahead on other grounds, such as its dose)."""
    if not routes or penalty <= 0:
        return fused
    return penalize_near_top(fused, lambda row: bool(routes_of(row)) and routes_of(row).isdisjoint(routes), penalty)


# "without X" (or "w/o X", "no X", "excludes X", "other than X") up to the next clause boundary; "with or without X"
# negates nothing; "other than single or dual chamber" negates both.
NEGATED_CLAUSE = re.compile(
    r"(?<!or )\b(?:without|w/o|no|excludes|excluding)\s+"
    r"(.*?)(?=\s*\b(?:with|w/|and|or|for|per|followed|including)\b|[,;()]|$)"
    r"|\bother than\s+(.*?)(?=\s*\b(?:with|w/|and|for|per|followed|including)\b|[,;()]|$)"
)


# "non-esrd", "non-adjunctive", "non emergency": the word after "non" is negated.
NON_PREFIXED = re.compile(r"\bnon[-\s]?([a-z]+)")

Negations = tuple[frozenset[str], frozenset[str]]  # (stems said without, stems said otherwise)


def negation_facts(text: str, stems_of: Callable[[str], Sequence[str]]) -> Negations:
    """(stems said without, stems said otherwise) of a text."""
    lowered = text.lower()
    clauses = [" ".join(groups) for groups in NEGATED_CLAUSE.findall(lowered)] + NON_PREFIXED.findall(lowered)
    negated = frozenset(stem for clause in clauses for stem in stems_of(clause))
    rest = NON_PREFIXED.sub(" ", NEGATED_CLAUSE.sub(" ", lowered)).replace("without", " ")
    stated = frozenset(stems_of(rest))
    return negated - stated, stated - negated


def query_negation_facts(typed: str, expanded: str, stems_of: Callable[[str], Sequence[str]]) -> Negations:
    """What a query says it wants and does not, its own words first: an expansion that names siblings on both
    sides ("penile prosthesis": "… inflatable", "… non-inflatable") must not cancel the "inflatable" typed,
    while one that states what a brand is ("viabil": "… covered") still counts where the words are silent."""
    typed_without, typed_with = negation_facts(typed, stems_of)
    expanded_without, expanded_with = negation_facts(expanded, stems_of)
    return (
        typed_without | (expanded_without - typed_with),
        typed_with | (expanded_with - typed_without),
    )


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
    near = near_top(fused)
    devices = [row for row in near if is_opps_device_category(records[row])]
    if not devices:
        return fused
    best_device = max(fused[row] for row in devices)
    siblings = [fused[row] for row in near if records[row].kind == "code" and records[row].section in DMEPOS_SECTIONS]
    lift = max(1.0 + bonus, (max(siblings) / best_device) * (1.0 + bonus / 10) if siblings else 0.0)
    return {row: score * lift if row in devices else score for row, score in fused.items()}


def weigh_rows(fused: dict[int, float], rows: frozenset[int], weight: float) -> dict[int, float]:
    """Multiply by ``weight`` the score of each of ``rows`` (a kind of code that gives way to the others of
    like score wherever it sits: modifiers, quality-reporting codes, S codes; see ``search.code_sets``)."""
    if weight >= 1.0 or rows.isdisjoint(fused):
        return fused
    weighed = dict(fused)
    for row in rows.intersection(fused):
        weighed[row] *= weight
    return weighed
