"""Which drug a query names, read off the drug codes' own descriptors, so a near-top code of another drug
gives way to the drug asked for.

A drug code is one whose descriptor states a dose ("Injection, filgrastim (g-csf), excludes biosimilars,
1 microgram"), or an injection billed by volume ("Injection, gadobutrol, 0.1 ml"). A drug's name is a word few
drug codes share and that names drugs more often than anything
else: "filgrastim" (9 drug codes), "epinephrine"; not "injection", "sodium" or "immune globulin" (dozens),
nor "dextrose" (fluids and supplies more often than doses). When a query names such a drug and a near-top
code names it too, a near-top drug code naming none of the query's drugs is another product
("FILGRASTIM 300MCG/0.5ML" is not "Injection, calcitriol, 0.1 mcg", which only shares its "mcg"). The
names come from CMS's text and the knowledge rows indexed with each code (brand names), never a list
written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from codefinder.indexer.attributes import Attribute, Quantity
from codefinder.indexer.keyword_index import TEXT_FIELDS
from codefinder.search.loader import LoadedIndex
from codefinder.search.rerank import near_top, penalize_near_top

DOSE_FAMILY_PREFIX = "dose:"
VOLUME_FAMILY = "volume"
# a word more drug codes share than this is wording ("injection", "biosimilar"), not a drug's name
MAX_NAME_CODES = 15
MIN_NAME_LENGTH = 4
DESCRIPTOR_FIELDS = ("long", "short")  # what CMS wrote; the knowledge field is this project's


def states_a_dose(attributes: Iterable[Attribute]) -> bool:
    return any(isinstance(a, Quantity) and a.family.startswith(DOSE_FAMILY_PREFIX) for a in attributes)


def is_drug_code(description: str, attributes: Iterable[Attribute]) -> bool:
    """A code stating a dose, or an injection billed by volume ("Injection, gadobutrol, 0.1 ml")."""
    attributes = tuple(attributes)
    if states_a_dose(attributes):
        return True
    return description.lower().startswith("injection") and any(
        isinstance(a, Quantity) and a.family == VOLUME_FAMILY for a in attributes
    )


@dataclass(frozen=True)
class DrugNames:
    """The drug codes of an index and the stems that name a drug."""

    drug_rows: frozenset[int]
    name_stems: frozenset[str]
    # the looser set a code may share with the query to count as the same drug: a drug's name, or a class
    # few drug codes share whatever else shares it ("insulin" for "insulin lispro": J1815 is every insulin)
    drug_stems: frozenset[str]
    # each drug code's drug words, from every field its text is indexed in (brands in the knowledge field):
    # read once, so a query's cold near-top rows cost a dictionary lookup, not an analyzer pass
    row_stems: dict[int, frozenset[str]] = field(default_factory=dict, compare=False)

    @classmethod
    def from_index(cls, index: LoadedIndex, attributes_of: Callable[[int], Iterable[Attribute]]) -> DrugNames:
        """Read off the descriptors' postings (long and short fields): the stems the keyword index holds."""
        cached = index.derived.get("drug_names")
        if cached is not None:
            return cached
        records = index.records
        is_code = np.array([record.kind == "code" for record in records], dtype=bool)
        is_drug = np.array(
            [is_drug_code(record.long_description or "", attributes_of(row)) for row, record in enumerate(records)],
            dtype=bool,
        )
        is_drug &= is_code
        documents: dict[str, list[np.ndarray]] = {}
        for name in DESCRIPTOR_FIELDS:
            for stem, (ids, _) in index.keyword_postings[name][0].items():
                documents.setdefault(stem, []).append(ids)
        names, words = set(), set()
        for stem, parts in documents.items():
            if not stem.isalpha() or len(stem) < MIN_NAME_LENGTH:
                continue
            ids = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
            in_drugs = int(np.count_nonzero(is_drug[ids]))
            elsewhere = int(np.count_nonzero(is_code[ids])) - in_drugs
            if 0 < in_drugs <= MAX_NAME_CODES:
                words.add(stem)
                if elsewhere <= in_drugs:
                    names.add(stem)
        per_row: dict[int, set[str]] = {}
        for name in TEXT_FIELDS:
            postings = index.keyword_postings[name][0]
            for stem in words:
                if stem in postings:
                    for row in postings[stem][0][is_drug[postings[stem][0]]].tolist():
                        per_row.setdefault(row, set()).add(stem)
        found = cls(
            frozenset(np.flatnonzero(is_drug).tolist()),
            frozenset(names),
            frozenset(words),
            {row: frozenset(stems) for row, stems in per_row.items()},
        )
        index.derived["drug_names"] = found
        return found

    def stems_of(self, row: int) -> frozenset[str]:
        return self.row_stems.get(row, frozenset())

    def named_in(self, query_stems: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
        """(the drug names among the query's stems, every drug word among them)."""
        stems = frozenset(query_stems)
        return stems & self.name_stems, stems & self.drug_stems


def apply_other_drug(
    fused: dict[int, float],
    named: tuple[frozenset[str], frozenset[str]],
    drug_names: DrugNames,
    stems_of: Callable[[int], frozenset[str]],
    penalty: float,
) -> dict[int, float]:
    """A near-top drug code sharing no drug word with the query scores ``penalty`` less, once the query names
    a drug and a near-top code names it too (the name is a drug the index knows, not a look-alike word)."""
    if penalty <= 0:
        return fused
    others = other_drug_rows(fused, named, drug_names, stems_of)
    return penalize_near_top(fused, others.__contains__, penalty) if others else fused


def other_drug_rows(
    fused: dict[int, float],
    named: tuple[frozenset[str], frozenset[str]],
    drug_names: DrugNames,
    stems_of: Callable[[int], frozenset[str]],
) -> frozenset[int]:
    """The near-top drug codes of another drug, once the query names a drug that a near-top code names too;
    none otherwise. Another drug shares no drug word with the query, or, when a near-top code names every drug
    name the query states, lacks one of them and has a drug word the query does not ("iron sucrose": "iron
    dextran")."""
    names, words = named
    if not names or not fused:
        return frozenset()
    near = [row for row in near_top(fused) if row in drug_names.drug_rows]
    if not any(names & stems_of(row) for row in near):
        return frozenset()
    whole = any(names <= stems_of(row) for row in near)

    def another(row: int) -> bool:
        stems = stems_of(row)
        if not words & stems:
            return True
        return whole and bool(names - stems) and bool(stems - words)

    return frozenset(row for row in near if another(row))
