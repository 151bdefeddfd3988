"""Which words of a note name something billable, learned from the code set itself.

A billable HCPCS Level II item is named the way its descriptor names it: the drug in "Injection,
ceftriaxone sodium, per 250 mg", the thing before the first comma of "Walker, folding, wheeled…" or
"Ankle foot orthosis, …", the service in "Ambulance service, basic life support…". The lexicon holds
those names from every current, billable record of the sections that bill items and services (quality
reporting codes — the M section, G codes OPPS marks M — bill nothing and are left out), the drug names the ASP
crosswalk and the knowledge tables add (generic and brand), and the knowledge tables' device, lay and
abbreviation terms. A word that heads descriptors only as a generic class ("addition", "supply",
"injection") is no name on its own. A match is only a candidate: the engine's calibrated confidence
decides whether it is billable (``search.suggest.pipeline``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from codefinder.indexer.attributes import parse_modes
from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.records import CodeRecord
from codefinder.search.code_sets import is_quality_reporting

# HCPCS Level II sections that bill supplies, drugs, equipment, orthoses and prostheses, blood products,
# vision and hearing items, ambulance and other services (the A B C E G J K L P Q V).
BILLABLE_SECTIONS = frozenset("ABCEGJKLPQV")
# Words that head descriptors as a class, not as the name of an item.
GENERIC_HEADS_TEXT = (
    "addition additions supply supplies service services injection injections infusion replacement accessory "
    "accessories component components unit units kit device devices system systems set item items other "
    "miscellaneous each per drug drugs use patient patients visit administration for with without the "
    "and of or to in on by any type"
)
GENERIC_HEADS = frozenset(GENERIC_HEADS_TEXT.split())
# The route words that open a drug descriptor ("Injection, X, per 10 mg").
DRUG_OPENERS = ("injection", "infusion", "inhalation solution", "drug", "prescription drug")
# Knowledge terms that name a thing (a spelling variant or a short form of a clinical word names none).
NAMING_KINDS = frozenset({"device", "lay", "abbreviation", "brand"})
MAX_SINGLE_DRUG_DF = 40  # a one-word drug name found in more records is a salt or a class ("sodium")
MIN_WORD = 3
MIN_BILLABLE_SHARE = 0.5
MIN_NAMING_SHARE = 0.55

MIN_DESCRIBED_SHARE = 0.2
MIN_TECHNICAL_LENGTH = 6
WORD = re.compile(r"[^\W\d_](?:[^\W_]|['’](?=[^\W_]))*|\d+(?:\.\d+)?", re.UNICODE)
LONGEST = 6


@lru_cache(maxsize=1 << 16)
def normal(word: str) -> str:
    """Lower case, singular: the form phrases are matched in ("Walkers" = walker, "crutches" = crutch)."""
    word = word.lower().replace("’", "'").removesuffix("'s").rstrip("'")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "nses")):
        word = word[:-2]  # "lenses" -> "lens", then read as "lens" is below: both forms end alike
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def raw_words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD.findall(text.replace("-", " "))]


def words_of(text: str) -> list[str]:
    return [normal(w) for w in raw_words(text)]


@dataclass(frozen=True)
class Anchor:
    """A lexicon phrase found in a sequence of words: ``start``/``end`` index the words."""

    start: int
    end: int
    kind: str  # drug, item
    phrase: str


class MentionLexicon:
    """Phrases that name billable things (with their kind) and the words billable descriptors use."""

    def __init__(
        self, records: Sequence[CodeRecord], knowledge: Knowledge | None, english: frozenset[str] = frozenset()
    ) -> None:
        billable = [r for r in records if _billable(r)]
        record_words = [set(words_of(_text(r))) for r in records]
        billable_rows = {id(r) for r in billable}
        frequency = _Frequencies(
            Counter(w for words in record_words for w in words),
            Counter(w for r, words in zip(records, record_words, strict=True) if id(r) in billable_rows for w in words),
        )
        phrases: dict[str, str] = {}
        named: dict[str, set[str]] = {}
        self.heads: dict[str, frozenset[str]] = {}  # code -> the words its descriptor opens with
        exact: dict[str, str] = {}
        drug_words: set[str] = set()
        for record in billable:
            for name in _drug_names(record):
                _add(phrases, name, "drug", frequency)
                drug_words.update(w for w in words_of(name) if _distinctive(w, frequency))
                named.setdefault(" ".join(words_of(name)), set()).add(record.code)
            head = _head_of(record)
            if head:
                _add(phrases, head, "item", frequency)
                named.setdefault(head, set()).add(record.code)
                self.heads[record.code] = frozenset(head.split()) - GENERIC_HEADS
        heads = Counter(head.split()[-1] for head in map(_head_of, billable) if head)
        for noun, count in heads.items():
            if count >= 2:
                _add(phrases, noun, "item", frequency)
        # the codes a phrase names: the drug a code bills, the item its descriptor opens with
        self.named = {phrase: frozenset(codes) for phrase, codes in named.items() if phrase in phrases}
        if knowledge is not None:
            for name in [*knowledge.generic_to_brands, *knowledge.brand_to_generics]:
                _add(phrases, name, "drug", frequency)
            for term, meanings in knowledge.phrases.items():
                # a device name names an item; a lay term or a short form only when what it stands for is
                # billable wording ("cpap", "afo"), not a diagnosis ("copd", "chf")
                naming = [(e, k) for e, k in meanings if k == "device" or (k in NAMING_KINDS and frequency.names(e))]
                kinds = {kind for _, kind in naming}
                if kinds - {"abbreviation"}:
                    _add(phrases, term, "item", frequency)
                elif kinds and len(term) >= MIN_WORD:  # a short form as written: "tens" is not "ten"s
                    exact.setdefault(" ".join(raw_words(term)), "item")
            # a part of the body alone ("Extremities: warm", "knee") names where, not an item: "knee brace" does
            for site in knowledge.body_sites:
                noun = (words_of(site) or [""])[-1]  # "knee"; "extremity" of "lower extremity"
                if phrases.get(noun) == "item":
                    del phrases[noun]
        self.phrases = phrases
        self.exact = exact
        self._first_words = frozenset(phrase.split()[0] for phrase in [*phrases, *exact])
        services = knowledge.cpt_services if knowledge is not None else {}
        self._service_first_words = frozenset(w for term in services for w in raw_words(term)[:1])
        # single words that name one drug ("sulbactam", "ipratropium"), not a salt or a vehicle ("sodium")
        self.drug_words = frozenset(drug_words)
        self.statuses_known = any(listed(r) for r in records)  # an index built with Addendum B
        self.vocabulary = frozenset(frequency.billable) | frozenset(w for phrase in phrases for w in phrase.split())
        # technical words billable descriptors use, not everyday English (the query model's whole words):
        # one can name a service on its own ("dystrophic", "pneumococcal", "colonoscopy")
        self.technical = frozenset(
            w for w in frequency.billable if len(w) >= MIN_TECHNICAL_LENGTH and w.isalpha() and w not in english
        )
        # what the descriptors of each kind of item say about it: "bed" -> side, rail, mattress, electric…
        described: dict[str, Counter[str]] = {}
        for record, words in zip(records, record_words, strict=True):
            head = _head_of(record) if id(record) in billable_rows else ""
            if head:
                described.setdefault(head.split()[-1], Counter()).update(words)
        self.described = {noun: (max(words.values()), dict(words)) for noun, words in described.items()}
        # ... and the attribute families they state (indexer.attributes): a hearing aid's "behind the ear" and a
        # knee orthosis's "off the shelf" describe it, however its descriptors abbreviate them ("bte", "ots")
        families: dict[str, set[str]] = {}
        for record in billable:
            head = _head_of(record)
            if head:
                families.setdefault(head.split()[-1], set()).update(m.family for m in parse_modes(_text(record)))
        self.described_families = {noun: frozenset(found) for noun, found in families.items()}

    def may_name_service(self, words: Sequence[str]) -> bool:
        """Could these words (lower case, as written) hold a CPT service phrase? Only a word some phrase of
        the knowledge's CPT table starts with (singular or plural) lets ``cpt_services_in`` look."""
        return any(w in self._service_first_words or w.rstrip("s") in self._service_first_words for w in words)

    def describes(self, item: str, attribute: str) -> bool:
        """Do descriptors of the kind of item ``item`` names (its last word) commonly say ``attribute``?
        A hospital bed's descriptors say "mattress", a hearing aid's "binaural", gauze's "adhesive border";
        a wheelchair's seldom say "seat cushion", a lens's never "coating" (those are items of their own)."""
        noun = item.split()[-1]
        total, counts = self.described.get(noun, (0, {}))
        if total > 0 and all(counts.get(w, 0) >= MIN_DESCRIBED_SHARE * total for w in attribute.split()):
            return True
        stated = {mode.family for mode in parse_modes(attribute.lower())}
        return bool(stated) and stated <= self.described_families.get(noun, frozenset())

    def anchors(self, words: Sequence[str], raw: Sequence[str], blocked: Iterable[int] = ()) -> list[Anchor]:
        """Lexicon phrases among ``words`` (``normal``; ``raw``: the same words as written, lower case),
        longest first at each position, not overlapping, never using a blocked word."""
        stop = set(blocked)
        found: list[Anchor] = []
        i = 0
        while i < len(words):
            if words[i] not in self._first_words and raw[i] not in self._first_words:
                i += 1
                continue
            for size in range(min(LONGEST, len(words) - i), 0, -1):
                if any(j in stop for j in range(i, i + size)):
                    continue
                phrase = " ".join(words[i : i + size])
                kind = self.phrases.get(phrase)
                if kind is None:
                    phrase = " ".join(raw[i : i + size])
                    kind = self.exact.get(phrase)
                if kind is not None:
                    found.append(Anchor(i, i + size, kind, phrase))
                    i += size
                    break
            else:
                i += 1
        return found


def reporting_only(record: CodeRecord) -> bool:
    """A code that bills nothing for a note's item: the M section (quality measures and a few services a
    note's words hardly name), and every quality-reporting code (``search.code_sets``)."""
    return record.section == "M" or is_quality_reporting(record)


def listed(record: CodeRecord) -> bool:
    """A code the current OPPS Addendum B lists (it carries a status indicator). The HCPCS release also
    lists, without dates, drug codes CMS has since replaced (J3370 vancomycin 500 mg by J3373 10 mg), and
    the S, T and H codes Medicare does not use: Addendum B lists neither."""
    return record.opps_status_indicator is not None


def _billable(record: CodeRecord) -> bool:
    return (
        record.kind == "code"
        and record.section in BILLABLE_SECTIONS
        and not reporting_only(record)
        and record.termination_date is None
    )


def _text(record: CodeRecord) -> str:
    return " ".join(filter(None, [record.long_description, record.short_description, *record.synonyms]))


def _head_of(record: CodeRecord) -> str:
    return _head(record.long_description or "")


def _head(description: str) -> str:
    """The name a descriptor opens with: its words before the first comma, semicolon or parenthesis,
    when that is a short phrase (five words at most)."""
    head = re.split(r"[,;(:]", description, maxsplit=1)[0]
    words = words_of(head)
    return " ".join(words) if 0 < len(words) <= 5 else ""


def _drug_names(record: CodeRecord) -> list[str]:
    """The drug a record bills: the crosswalk's names and tagged brands, and the name its descriptor
    states after the route ("Injection, ceftriaxone sodium, per 250 mg" -> ceftriaxone sodium)."""
    names = list(record.synonyms) + list(record.knowledge_terms)
    description = (record.long_description or "").lower()
    for opener in DRUG_OPENERS:
        if description.startswith(opener + ","):
            rest = description[len(opener) + 1 :]
            name = re.split(r",|\(|\bper\b|\bup to\b|\d", rest, maxsplit=1)[0].strip()
            if name:
                names.append(name)
                names.append(name.split()[0])
            break
    return names


@dataclass(frozen=True)
class _Frequencies:
    """How many records hold a word: all of them, and the billable ones."""

    every: Counter[str]
    billable: Counter[str]

    def names(self, wording: str) -> bool:
        """Is ``wording`` how billable descriptors speak: are its content words, on average, mostly found in
        billable records? ("respiratory assist device bi-level pressure": yes; "chronic obstructive
        pulmonary disease", "hypertension": no, quality measures and nothing billable say those)."""
        words = [w for w in words_of(wording) if len(w) >= MIN_WORD and w not in GENERIC_HEADS]
        shares = [self.billable[w] / self.every[w] if self.every[w] else 0.0 for w in words]
        return bool(shares) and sum(shares) / len(shares) >= MIN_NAMING_SHARE

    def mostly_billable(self, word: str) -> bool:
        """A word most of whose records bill something: "walker", not "screening" (mostly in quality
        measures) nor "leg" (mostly in descriptions of where)."""
        every = self.every[word]
        return every == 0 or self.billable[word] / every >= MIN_BILLABLE_SHARE


def _distinctive(word: str, frequency: _Frequencies) -> bool:
    return len(word) >= MIN_WORD + 2 and word.isalpha() and frequency.every[word] <= MAX_SINGLE_DRUG_DF


def _add(phrases: dict[str, str], text: str, kind: str, frequency: _Frequencies) -> None:
    words = words_of(text)
    if not words or len(words) > LONGEST:
        return
    if len(words) == 1:
        word = words[0]
        if len(word) < MIN_WORD or word in GENERIC_HEADS or word.isdigit():
            return
        if kind == "drug" and frequency.every[word] > MAX_SINGLE_DRUG_DF:
            return
        if kind == "item" and not frequency.mostly_billable(word):
            return
    elif all(w in GENERIC_HEADS for w in words):
        return
    phrases.setdefault(" ".join(words), kind)
