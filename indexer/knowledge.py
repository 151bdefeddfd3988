"""The project's curated word knowledge (``data/knowledge/*.csv``): drug brand names, device brand
names, abbreviations and lay terms, chargemaster shorthand, units. Facts about words, never about evaluation items.

Loaded at build time (brand names become searchable terms of their drug's records, and a snapshot of
the tables travels inside the index) and applied at query time by ``search.rewrite``.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefinder.indexer.errors import SourceError
from codefinder.indexer.records import CodeRecord

FILES = {
    "drug_names": ("drug_names.csv", ("generic", "brand")),
    "abbreviations": ("abbreviations.csv", ("term", "expansion", "kind")),
    "devices": ("devices.csv", ("term", "expansion")),
    "chargemaster": ("chargemaster.csv", ("token", "expansion", "kind")),
    "units": ("units.csv", ("pattern", "canonical", "kind")),
    "cpt_services": ("cpt_services.csv", ("term", "service")),
    "body_sites": ("body_sites.csv", ("term", "region")),
}
WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Knowledge:
    """Lookup tables, all keys lower case."""

    brand_to_generics: dict[str, list[str]] = field(default_factory=dict)
    generic_to_brands: dict[str, list[str]] = field(default_factory=dict)
    phrases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    shorthand: dict[str, list[str]] = field(default_factory=dict)
    # abbreviation -> word, learned at build time from CMS's short and long descriptors
    # (``indexer.learned_shorthand``); a curated ``shorthand`` row always comes first
    learned_shorthand: dict[str, str] = field(default_factory=dict)
    noise: set[str] = field(default_factory=set)
    unit_canonical: dict[str, str] = field(default_factory=dict)
    # phrases naming services coded in CPT ("mri", "office visit") -> the kind of service
    cpt_services: dict[str, str] = field(default_factory=dict)
    # words naming a part of the body ("brain", "knee") -> its region ("head", "lower extremity")
    body_sites: dict[str, str] = field(default_factory=dict)

    @property
    def curated_terms(self) -> frozenset[str]:
        """Every word or phrase a curated table says something about."""
        tables = (self.brand_to_generics, self.phrases, self.shorthand, self.unit_canonical)
        return frozenset(term for table in tables for term in table) | frozenset(self.noise)

    @property
    def longest_phrase(self) -> int:
        return max((len(term.split()) for term in self.phrases), default=1)

    def unit_variants(self, unit: str) -> list[str]:
        """Every spelling of the unit's class that descriptors use (ml -> cc, cc -> ml)."""
        canonical = self.unit_canonical.get(unit)
        if canonical is None:
            return []
        return sorted({p for p, c in self.unit_canonical.items() if c == canonical and WORD.fullmatch(p)} - {unit})

    def to_json(self) -> dict[str, Any]:
        return {
            "brand_to_generics": self.brand_to_generics,
            "generic_to_brands": self.generic_to_brands,
            "phrases": {k: [list(pair) for pair in v] for k, v in self.phrases.items()},
            "shorthand": self.shorthand,
            "learned_shorthand": self.learned_shorthand,
            "noise": sorted(self.noise),
            "unit_canonical": self.unit_canonical,
            "cpt_services": self.cpt_services,
            "body_sites": self.body_sites,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Knowledge:
        return cls(
            brand_to_generics=data["brand_to_generics"],
            generic_to_brands=data["generic_to_brands"],
            phrases={k: [tuple(pair) for pair in v] for k, v in data["phrases"].items()},  # type: ignore[misc]
            shorthand=data["shorthand"],
            learned_shorthand=data.get("learned_shorthand", {}),
            noise=set(data["noise"]),
            unit_canonical=data["unit_canonical"],
            cpt_services=data.get("cpt_services", {}),
            body_sites=data.get("body_sites", {}),
        )


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise SourceError(str(path), "knowledge table missing")
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [(number, line) for number, line in enumerate(handle, start=1) if not line.startswith("#")]
    reader = csv.DictReader(line for _, line in lines)
    if tuple(reader.fieldnames or ()) != columns:
        raise SourceError(str(path), f"header must be {','.join(columns)}", lines[0][0] if lines else 1)
    rows = []
    for (number, _), row in zip(lines[1:], reader, strict=False):
        if None in row or any(value is None for value in row.values()):
            raise SourceError(str(path), f"expected {len(columns)} columns", number)
        rows.append({key: " ".join(value.lower().split()) for key, value in row.items()})
    return rows


def load_knowledge(directory: Path) -> Knowledge:
    """Read the tables; a malformed row is an error naming file and line."""
    knowledge = Knowledge()
    brands: dict[str, list[str]] = defaultdict(list)
    generics: dict[str, list[str]] = defaultdict(list)
    for row in _rows(directory / FILES["drug_names"][0], FILES["drug_names"][1]):
        if row["generic"] and row["brand"] and row["brand"] != row["generic"]:
            brands[row["brand"]].append(row["generic"])
            generics[row["generic"]].append(row["brand"])
    phrases: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in _rows(directory / FILES["abbreviations"][0], FILES["abbreviations"][1]):
        if row["term"] and row["expansion"]:
            phrases[row["term"]].append((row["expansion"], row["kind"]))
    for row in _rows(directory / FILES["devices"][0], FILES["devices"][1]):
        if row["term"] and row["expansion"]:
            phrases[row["term"]].append((row["expansion"], "device"))
    shorthand: dict[str, list[str]] = defaultdict(list)
    for row in _rows(directory / FILES["chargemaster"][0], FILES["chargemaster"][1]):
        if row["kind"] == "noise":
            knowledge.noise.add(row["token"])
        elif row["token"] and row["expansion"]:
            shorthand[row["token"]].append(row["expansion"])
    for row in _rows(directory / FILES["units"][0], FILES["units"][1]):
        knowledge.unit_canonical[row["pattern"]] = row["canonical"]
    for row in _rows(directory / FILES["cpt_services"][0], FILES["cpt_services"][1]):
        if row["term"] and row["service"]:
            knowledge.cpt_services[row["term"]] = row["service"]
    for row in _rows(directory / FILES["body_sites"][0], FILES["body_sites"][1]):
        if row["term"] and row["region"]:
            knowledge.body_sites[row["term"]] = row["region"]
    knowledge.brand_to_generics = dict(brands)
    knowledge.generic_to_brands = dict(generics)
    knowledge.phrases = dict(phrases)
    knowledge.shorthand = dict(shorthand)
    return knowledge


def knowledge_files(directory: Path) -> list[Path]:
    return [directory / name for name, _ in FILES.values()]


class BrandTagger:
    """Finds the brand names of drugs whose generic name appears in a record's descriptions.

    A brand that some record names itself (in its descriptors or crosswalk drug names: "Injection, immune
    globulin, (privigen)…", J9271's KEYTRUDA) has a code of its own: it is tagged on that record only, never
    on the sibling codes of the same generic, where it would make every sibling match the brand."""

    def __init__(self, knowledge: Knowledge, records: Iterable[CodeRecord] = ()) -> None:
        self._by_first_word: dict[str, list[tuple[list[str], list[str]]]] = defaultdict(list)
        brand_words: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
        for generic, brands in knowledge.generic_to_brands.items():
            words = WORD.findall(generic)
            if words:
                self._by_first_word[words[0]].append((words, brands))
            for brand in brands:
                if parts := WORD.findall(brand):
                    brand_words[parts[0]].append((parts, brand))
        self._brand_words = brand_words
        self._named_whole: set[str] = set()  # brands some record names as such ("ocrevus")
        self._named_within: set[str] = set()  # brands some record names only inside a longer one ("gamunex-c")
        for record in records:
            whole, within = self._named(record)
            self._named_whole |= whole
            self._named_within |= within

    def _named(self, record: CodeRecord) -> tuple[set[str], set[str]]:
        """The brands a record names, as such and only inside a longer brand name ("ocrevus zunovo" names
        that brand as such, "ocrevus" within it)."""
        words = _record_words(record, with_synonyms=True)
        named = {brand: frozenset(parts) for word in words for parts, brand in self._brand_words.get(word, ())}
        named = {brand: parts for brand, parts in named.items() if parts <= words}
        within = {brand for brand, parts in named.items() if any(parts < other for other in named.values())}
        return set(named) - within, within

    def brands(self, record: CodeRecord) -> list[str]:
        words = _record_words(record)
        whole, within = self._named(record) if self._named_whole or self._named_within else (set(), set())
        found: list[str] = []
        for word in words:
            for generic_words, brands in self._by_first_word.get(word, ()):
                if all(w in words for w in generic_words):
                    found.extend(brand for brand in brands if self._belongs(brand, whole, within))
        return sorted(set(found) - set(record.synonyms))

    def _belongs(self, brand: str, whole: set[str], within: set[str]) -> bool:
        """A brand with a code of its own goes to that code only (the codes naming it as such, else those
        naming it within a longer name); a brand no code names goes to every code of its generic."""
        if brand in self._named_whole:
            return brand in whole
        if brand in self._named_within:
            return brand in within or brand in whole
        return True


def _record_words(record: CodeRecord, with_synonyms: bool = False) -> set[str]:
    texts = [record.long_description or "", record.short_description or ""]
    if with_synonyms:
        texts += record.synonyms
    return set(WORD.findall(" ".join(texts).lower()))


def save_snapshot(knowledge: Knowledge, path: Path) -> None:
    path.write_text(json.dumps(knowledge.to_json(), ensure_ascii=False, sort_keys=True), encoding="utf-8")


def load_snapshot(path: Path) -> Knowledge:
    return Knowledge.from_json(json.loads(path.read_text(encoding="utf-8")))
