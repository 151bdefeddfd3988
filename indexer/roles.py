"""What a descriptor says its item is: the base item, a part of another item, or a special variant.

HCPCS descriptors name the item first ("Walker, folding, wheeled") and say in their own words when the code
is for something that goes with another item: "Seat attachment, walker", "Oxygen probe for use with oximeter
device, replacement", "Wheelchair accessory, tray", "Addition to lower extremity orthosis, …", "Humidifier,
heated, used with positive airway pressure device". Others are special variants of an item that a plain query
does not mean: "Hospital bed, institutional type", "Commode chair, extra wide and/or heavy duty", "Transport
chair, pediatric size", "… custom fabricated", "Injection, cefazolin sodium (baxter), not therapeutically
equivalent to j0690". Read once per record at build time; the search side ranks parts and variants below
the base item unless the query names the part or the variant.

- the **head**: the descriptor's first clause up to a comma, "for", "used with", "with", a parenthesis…, and
  its **head noun** (the last word, skipping generic nouns such as "device": "Oximeter device" -> oximeter);
- **part**: the descriptor says it is an accessory, attachment, replacement, addition, component or supply,
  is "for use with" / "used with" another item, or is "X, <item>" where <item> is what other descriptors
  name as their head ("Commode seat, wheelchair"); its **part words** are what the query must name to want it;
- **variant**: the qualifiers of a special variant it states.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.text import analyze

# A clause that says what the item includes, not what it is: "includes all components and accessories". It ends
# where an orthosis descriptor states how the item is made: "…, includes straps, closures, …, custom fabricated".
INCLUDES_CLAUSE = re.compile(
    r"\b(?:includes?|including|inclusive of|complete with|with all)\b[^;]*?(?=,\s*(?:custom|prefabricated)\b|;|$)"
)
PARENTHESIS = re.compile(r"\([^()]*\)")
# Where the first clause (the head) ends.
HEAD_END = re.compile(
    r"[,;:(]|\s(?:for|used|with|without|includes?|including|that|which|when|per|each|e\.g\.|-)\s|\s-\s"
)
# Words that say "a part of / a supply for another item".
PART_WORDS = re.compile(
    r"\b(?:accessor(?:y|ies)|attachments?|adapt[eo]rs?|replacement(?! of)|^replace|(?<!in )additions?\b(?! of)|"
    r"modification\s+(?:of|to)|additives? (?:for|to)|integral part of|components?|supplies|supply allowance|supply kit|"
    r"refill|for use (?:with|in)|used with(?! or without)|used in conjunction with|"
    # a service about an item, not the item: "Assessment for hearing aid", "Fitting/orientation/checking of
    # hearing aid", "Dispensing fee, monaural hearing aid, any type"
    r"^assessment for|^fitting/orientation/checking of|^dispensing fee)\b"
)
# A clause that names what the item is not: "excluding croup or pediatric tents".
EXCLUDING_CLAUSE = re.compile(r"\b(?:excluding|except|other than|not including)\b[^,;]*")
# A head that is only "<host> accessory" / "<host> component" / "addition to <host>" / "replacement" / "all
# <hosts>": the part itself is named in the next clause ("Wheelchair accessory, tray", "Addition to lower
# extremity, foot plate", "All lower extremity prosthesis, … (sach) foot, replacement only").
HOST_ONLY_HEAD = re.compile(r"(?:accessor(?:y|ies)|components?|replacement|^additions? to\b.*|^accessory|^all\b.*)$")
# A second clause that starts so says what the item has or is for, not which item it belongs to.
PREPOSITION = re.compile(r"(?:with|without|for|to|in|on|of|and|or|not|any|per|each|includ)\b")
# Nouns too general to be a head noun: the word before them names the item ("oximeter device").
GENERIC_NOUNS = frozenset(
    analyze("device devices system systems unit units equipment apparatus machine product item type")
)
# The item a part goes with: "… for use with <host>", "… used with <host>", "Pump for <host>".
HOST_AFTER = re.compile(r"\b(?:for use (?:with|in)|used with|used in conjunction with|for|checking of)\s+([^,;(]+)")
# Marker words dropped from a part's name ("Replacement battery" names a battery); "supplies" stays: it is
# what "Electrical stimulator supplies" are.
MARKERS_ONLY = re.compile(r"\b(?:accessor(?:y|ies)|attachments?|replacement|^replace|additions? to|components?)\b")
# Words that say a part is a part: "Seat attachment" is a seat.
PART_NOUNS_SKIP = frozenset(analyze("attachment attachments accessory accessories replacement component components"))
# Words that begin a descriptor without naming an item (a route, a form of service): "Injection, X" is X.
NOT_ITEMS = frozenset(analyze("injection infusion inhalation instillation implant administration service services"))
# The forms a drug comes in: "Iodine i-131 sodium iodide capsule(s)" is the drug in capsules, not a part of it.
DOSAGE_FORMS = frozenset(
    analyze("capsule capsules tablet tablets solution suspension powder granules liquid gel cream ointment vial")
)
# Special variants a plain query does not mean; each maps to the words that state it in a query. Facts of
# the language of DME and drug coding: a bariatric item is the heavy-duty, extra-wide one; pediatric sizes
# are for children; a custom-fabricated orthosis is made from a model of the patient.
VARIANTS: dict[str, str] = {
    "institutional": "institutional institution facility",
    "pediatric": "pediatric pediatrics peds paediatric child children kid kids infant infants junior youth toddler",
    "pediatrics": "pediatric pediatrics peds paediatric child children kid kids infant infants junior youth toddler",
    # the sizes made for children ("Surgical boot, each, junior" / "child" / "infant", "Youth sized … brief")
    "junior": "pediatric pediatrics peds paediatric child children kid kids junior youth",
    "child": "pediatric pediatrics peds paediatric child children kid kids junior youth toddler",
    "infant": "pediatric pediatrics peds paediatric infant infants baby babies newborn neonatal",
    "youth": "pediatric pediatrics peds paediatric child children kid kids junior youth teen adolescent",
    "heavy duty": "heavy duty bariatric obese wide",
    "extra heavy duty": "extra heavy duty bariatric obese",
    "bariatric": "bariatric heavy duty obese wide",
    "extra wide": "extra wide bariatric heavy duty",
    # made for one patient ("…, custom fabricated", "(custom molded shoe)", "…, 30-40 mmhg, custom, each"); a
    # "custom preparation" of an off-the-shelf item is not (``CUSTOM_PREPARATION``)
    "custom": "custom molded made fabricated",
    "custom fabricated": "custom molded made fabricated",
    "custom-fabricated": "custom molded made fabricated",
    "custom molded": "custom molded made fabricated",
    "custom-molded": "custom molded made fabricated",
    "molded to patient model": "custom molded made fabricated model",
    "hospital grade": "hospital grade",
    # a lens of another kind than the standard one ("Lens, intraocular (telescopic)", "(new technology)")
    "telescopic": "telescopic telescope miniature",
    "new technology": "new technology ntiol",
    # an upgrade billed beside the basic item ("Deluxe frame", "deluxe feature of … shoe")
    "deluxe": "deluxe upgrade premium luxury",
    # a supply or drug for a dialysis patient ("Blood glucose test strips, for dialysis")
    "for dialysis": "dialysis hemodialysis esrd renal kidney",
    "for hemodialysis": "dialysis hemodialysis esrd renal kidney",
    # long-acting and special-purpose formulations of a drug
    "depot": "depot lar long acting extended",
    "extended-release": "extended release er xr sr depot long acting",
    "extended release": "extended release er xr sr depot long acting",
    "lock flush": "lock flush hep",
    # a dressing that fills a wound rather than covering it; a device implanted rather than worn
    "wound filler": "filler fill packing cavity",
    "surgically implanted": "implanted implant implantable surgical surgically",
    # a coated (drug-eluting) stent or balloon, beside the plain one
    "drug-coated": "drug coated eluting des paclitaxel",
    "coated/covered": "coated covered eluting drug des",
    # a newborn's version of a service ("Ambulance service, neonatal transport"), a code one payer takes
    # ("… (medicaid only)"), and transport by air beside the ground ambulance
    "neonatal": "neonatal neonate neonates newborn newborns infant infants nicu",
    "medicaid only": "medicaid",
    "air services": "air helicopter rotary fixed wing flight airplane",
}
CUSTOM_PREPARATION = re.compile(r"\bcustom preparation\b")
VARIANT_PATTERN = re.compile(
    r"(?<!non-)(?<!non )(?<!\bor )\b(?:"
    + "|".join(sorted((re.escape(v) for v in VARIANTS), key=len, reverse=True))
    + r")\b"
)
# "(baxter), not therapeutically equivalent to j0690": a maker's own code beside the drug's plain code.
MAKER_SPECIFIC = re.compile(r"(?:\(([a-z][a-z .&-]*)\),?\s*)?not therapeutically equivalent")
MAKER = "maker"
# "not otherwise specified", "other", "miscellaneous": the code for what no specific code describes.
NOT_OTHERWISE = "not otherwise"
NOC_STATED_BY = "not otherwise specified classified noc nos unlisted unclassified other miscellaneous misc unspecified"
NOC_WORDING = re.compile(
    r"\b(?:not otherwise (?:specified|classified)|unlisted|unclassified|noc|nos|other type)\b"
    r"|^(?:other|miscellaneous)\b"
)
# "Injection, acetaminophen 10 mg and ibuprofen 3 mg": a combination product, beside the first drug's own code;
# the second drug is what a query states to want it.
COMBINATION = re.compile(r"^injection, ([a-z][^,(;]*?) and ([a-z][^,(;]*)")
# Salts and forms both drugs of a combination may carry: they name neither.
SALTS = frozenset(analyze("hcl hydrochloride sodium potassium calcium acetate phosphate citrate sulfate g"))
AMOUNT = re.compile(r"\d[\d.,/]*\s*(?:mg|mcg|gm?|ml|cc|units?)?\b")
# "Injection, tbo-filgrastim", "Injection, trastuzumab-anns, biosimilar": a drug name joined by a hyphen to a
# short prefix or a four-letter suffix (the USAN marks of a related molecule or a biosimilar) is another
# product than the plain name; the affix is what a query states to want it.
DRUG_CLAUSE = re.compile(r"^injection, ([a-z][^,(;]*)")
HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")
MAX_PREFIX, SUFFIX, MIN_NAME = 3, 4, 5


def name_affixes(text: str) -> list[str]:
    """The short prefixes ("tbo", "fam") and four-letter suffixes ("anns", "nxki") of a drug descriptor's name."""
    clause = DRUG_CLAUSE.match(text)
    affixes = []
    for first, second in HYPHENATED.findall(clause.group(1)) if clause else ():
        if len(first) <= MAX_PREFIX and len(second) >= MIN_NAME:
            affixes.append(first)
        elif len(second) == SUFFIX and len(first) >= MIN_NAME:
            affixes.append(second)
    return affixes


# "Injection, bupivacaine (posimir), 1 mg": a descriptor naming one brand of its drug.
OWN_BRAND = re.compile(r"\(([a-z][a-z-]+)\)")
# "Injection, cyclophosphamide, not otherwise specified, 5 mg" is the drug's generic code; beside it,
# "Injection, cyclophosphamide (sandoz), 5 mg" is one product's.
GENERIC_CODE = re.compile(r"^([a-z][^,(;]*, [^,(;]+), not otherwise specified\b")
PRODUCT_CODE = re.compile(r"^([a-z][^,(;]*, [^,(;]+?)\s*\(([^()]+)\)")


def generic_names(records: Iterable[CodeRecord]) -> frozenset[str]:
    """The drugs (as "injection, <name>") that have a generic "not otherwise specified" code of their own."""
    found = (GENERIC_CODE.match(descriptor(record)) for record in records)
    return frozenset(match.group(1) for match in found if match)


# "Apnea monitor, with recording feature", "…, with backup rate feature", "Commode chair with integrated seat lift
# mechanism", "… with built-in convexity": an option the plain item lacks.
FEATURE = re.compile(
    r"(?<!or )\bwith ((?:[a-z-]+ ){0,3}?[a-z-]+) feature\b"
    r"|(?<!or )\bwith (?:built-in|integrated) ((?:[a-z-]+ ){0,2}[a-z-]+)"
)


@dataclass(frozen=True)
class Role:
    """A record's head, whether it is a part (and which words name the part) and the variants it states."""

    head: tuple[str, ...] = ()
    part: bool = False
    part_words: tuple[str, ...] = ()
    part_nouns: tuple[str, ...] = ()  # what the part is: the query names one of these to want it
    variants: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (variant, stems that state it in a query)
    # the words of the record itself (descriptor, crosswalk names): a query word that only this record among
    # those near the top has ("epbx", "zilretta") states whatever variant it is
    own_names: tuple[str, ...] = ()
    # what a part goes with ("positive airway pressure device" for a CPAP filter), as stems
    host: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "head": list(self.head),
            "part": self.part,
            "part_words": list(self.part_words),
            "part_nouns": list(self.part_nouns),
            "variants": [[name, list(stems)] for name, stems in self.variants],
            "own_names": list(self.own_names),
            "host": list(self.host),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Role:
        return cls(
            head=tuple(data["head"]),  # type: ignore[arg-type]
            part=bool(data["part"]),
            part_words=tuple(data["part_words"]),  # type: ignore[arg-type]
            part_nouns=tuple(data["part_nouns"]),  # type: ignore[arg-type]
            variants=tuple((str(n), tuple(s)) for n, s in data["variants"]),  # type: ignore[union-attr]
            own_names=tuple(data["own_names"]),  # type: ignore[arg-type]
            host=tuple(data.get("host", ())),  # type: ignore[arg-type]
        )


def descriptor(record: CodeRecord) -> str:
    return (record.long_description or record.short_description or "").lower()


def clauses(text: str) -> list[str]:
    """The descriptor's comma clauses up to its first semicolon, without what it says it includes."""
    cleaned = INCLUDES_CLAUSE.sub(" ", text).split(";")[0]
    return [part.strip() for part in cleaned.split(",") if part.strip()]


def head_of(text: str) -> str:
    """The first clause, up to where the item's name ends."""
    text = PARENTHESIS.sub(" ", text).strip()
    match = HEAD_END.search(text)
    return (text[: match.start()] if match else text).strip()


def head_nouns(head: str, skip: frozenset[str] = GENERIC_NOUNS) -> tuple[str, ...]:
    """The stems of the head's last word (each alternative of "collar/holder", of "sling or seat"), skipping
    generic nouns ("Oximeter device" -> oximeter)."""
    nouns: list[str] = []
    for alternative in re.split(r"\bor\b", head):
        words = re.findall(r"[a-z][a-z/-]*", alternative)
        while words:
            stems = [s for part in re.split(r"[/-]", words[-1]) for s in analyze(part)]
            if stems and not set(stems) <= skip:
                nouns += [s for s in stems if s not in skip]
                break
            words.pop()
    return tuple(dict.fromkeys(nouns))


Items = dict[str, list[tuple[frozenset[str], str]]]  # section -> (head stems, the head's last word's stem)


def item_heads(records: Iterable[CodeRecord]) -> Items:
    """The heads that name items, by code section: what the second clause of "Commode seat, wheelchair" and
    the start of "Tracheostomy tube collar/holder" are tested against. A head that is itself a part, a route or
    a service word names no item."""
    heads: set[tuple[str, frozenset[str], str]] = set()
    for record in records:
        text = descriptor(record)
        if record.kind != "code" or not text or PART_WORDS.search(INCLUDES_CLAUSE.sub(" ", text)):
            continue
        head = head_of(text)
        if head != PARENTHESIS.sub(" ", clauses(text)[0]).strip():
            continue  # only a head that is the whole first clause ("Walker, …") names an item
        stems = frozenset(analyze(head))
        last = analyze(re.split(r"[\s/-]+", head)[-1])
        if stems and last and not stems & NOT_ITEMS:
            heads.add((record.section or "", stems, last[-1]))
    items: Items = {}
    for section, stems, last_stem in sorted(heads, key=lambda item: (item[0], sorted(item[1]), item[2])):
        items.setdefault(section, []).append((stems, last_stem))
    return items


Qualifiers = dict[str, set[tuple[frozenset[str], str]]]  # section -> (an item's head stems, a one-word qualifier)


def item_qualifiers(records: Iterable[CodeRecord]) -> Qualifiers:
    """The one-word qualifiers descriptors give an item in their second clause ("Crutches, forearm": forearm
    crutches): "Crutch forearm" says the same item without the comma, not a forearm part of a crutch."""
    found: Qualifiers = {}
    for record in records:
        text = descriptor(record)
        parts = clauses(text) if record.kind == "code" and text else []
        if len(parts) < 2 or PREPOSITION.match(parts[1]):
            continue
        qualifier = analyze(PARENTHESIS.sub(" ", parts[1]))
        head = frozenset(analyze(head_of(parts[0])))
        if len(qualifier) == 1 and head:
            found.setdefault(record.section or "", set()).add((head, qualifier[0]))
    return found


def compound_host(
    head_stems: tuple[str, ...],
    nouns: tuple[str, ...],
    items: list[tuple[frozenset[str], str]],
    qualifiers: Collection[tuple[frozenset[str], str]] = (),
) -> bool:
    """ "Tracheostomy tube collar/holder" is a holder for a tracheostomy tube: its head is an item's name
    (the stems before its own head noun lie within an item's head, whose last word is among them) followed
    by another noun, one that is neither a form of a drug ("sodium iodide capsule") nor what descriptors name
    as a kind of that item ("crutch forearm")."""
    before = frozenset(s for s in head_stems if s not in nouns)
    if not before - GENERIC_NOUNS or not nouns or set(nouns) <= DOSAGE_FORMS:
        return False
    if all((before, noun) in qualifiers for noun in nouns):
        return False
    return any(
        before <= stems and last in before and last not in GENERIC_NOUNS and not set(nouns) & stems
        for stems, last in items
    )


def record_role(
    record: CodeRecord,
    items: Items | None = None,
    dosed: bool = False,
    generics: frozenset[str] = frozenset(),
    qualifiers: Qualifiers | None = None,
) -> Role:
    """The role a record's descriptor states (see the module docstring). ``dosed``: the record states a dose,
    so "not otherwise specified" makes it a drug's generic code (beside makers' own codes), not a catch-all."""
    text = descriptor(record)
    if not text:
        return Role()
    head = head_of(text)
    head_stems = tuple(dict.fromkeys(analyze(head)))
    parts = clauses(text)
    # "modification (including fitting) of …": what the parenthesis says the part includes is not what it is
    marked = PART_WORDS.search(INCLUDES_CLAUSE.sub(" ", PARENTHESIS.sub(" ", text)))
    section_items = (items or {}).get(record.section or "", [])
    part_words: list[str] = []
    part_nouns: tuple[str, ...] = ()
    part = False
    named, host = head, ""
    if marked:
        part = True
        if HOST_ONLY_HEAD.search(head) and len(parts) > 1:
            named, host = head_of(parts[1]), head  # "Wheelchair accessory, tray": the tray is the part
        else:
            # "… for use with oximeter device"; "Water chamber for humidifier, used with positive airway
            # pressure device": every item it is said to go with
            host = " ".join(after.group(1) for after in HOST_AFTER.finditer(text))
        if marked.group(0).startswith("modification"):
            named = "modification"  # "…, modification (including fitting) of … shoe": the modification is the part
        named = MARKERS_ONLY.sub(" ", named)
    elif len(parts) > 1 and not set(head_stems) & NOT_ITEMS and not PREPOSITION.match(parts[1]):
        stems = frozenset(analyze(PARENTHESIS.sub(" ", parts[1])))
        if stems and any(stems == item for item, _ in section_items) and not stems <= set(head_stems):
            part, host = True, parts[1]  # "Commode seat, wheelchair", "Platform attachment, walker"
    if not part and not set(head_stems) & NOT_ITEMS:
        nouns = head_nouns(head)
        if compound_host(head_stems, nouns, section_items, (qualifiers or {}).get(record.section or "", ())):
            part, host = True, " ".join(s for s in head_stems if s not in nouns)  # "Tracheostomy tube collar"
    if part:
        hosted = set(analyze(host))
        part_words = [s for s in analyze(named) if s not in hosted]
        # "Repair or nonroutine service for …": a service word names no part a query could ask for
        skip = GENERIC_NOUNS | PART_NOUNS_SKIP | NOT_ITEMS
        part_nouns = tuple(n for n in head_nouns(named, skip) if n not in hosted)
    variants = []
    stated = CUSTOM_PREPARATION.sub(" ", EXCLUDING_CLAUSE.sub(" ", INCLUDES_CLAUSE.sub(" ", text)))
    for name in dict.fromkeys(VARIANT_PATTERN.findall(stated)):
        variants.append((name, tuple(dict.fromkeys(analyze(VARIANTS[name])))))
    for named_feature, built_in in FEATURE.findall(stated):
        variants.append(("feature", tuple(dict.fromkeys(analyze(named_feature or built_in)))))
    affixes = name_affixes(text)
    if affixes:
        variants.append(("affix", tuple(dict.fromkeys(analyze(" ".join(affixes))))))
    combined = COMBINATION.match(text)
    if combined:
        first = set(analyze(AMOUNT.sub(" ", combined.group(1))))
        second = [stem for stem in analyze(AMOUNT.sub(" ", combined.group(2))) if stem not in first | SALTS]
        if second:
            variants.append(("combination", tuple(dict.fromkeys(second))))
    if not dosed and (record.noc or NOC_WORDING.search(text)):
        variants.append((NOT_OTHERWISE, tuple(dict.fromkeys(analyze(NOC_STATED_BY)))))
    maker = MAKER_SPECIFIC.search(text)
    brands = {b for b in OWN_BRAND.findall(text) if b in {n.lower() for n in record.synonyms + record.knowledge_terms}}
    product = PRODUCT_CODE.match(text)
    if maker:
        variants.append((MAKER, tuple(dict.fromkeys(analyze(maker.group(1) or "")))))
    elif brands:
        variants.append((MAKER, tuple(dict.fromkeys(analyze(" ".join(sorted(brands)))))))
    elif product and product.group(1) in generics and not NOC_WORDING.search(text):
        variants.append((MAKER, tuple(dict.fromkeys(analyze(product.group(2))))))
    own_names = tuple(dict.fromkeys(analyze(" ".join([text, *brands, *record.synonyms]))))
    return Role(
        head=head_stems,
        part=part,
        part_words=tuple(dict.fromkeys(part_words)),
        part_nouns=part_nouns,
        variants=tuple(variants),
        own_names=own_names,
        host=tuple(s for s in dict.fromkeys(analyze(host)) if s not in GENERIC_NOUNS) if part else (),
    )
