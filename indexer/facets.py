"""``record_facets.json``: what each record's descriptor says about its item, read once at build time.

One entry per record, in the order of ``records.jsonl``: its role (``indexer.roles``: head, part or base item,
variants) and its attributes (``indexer.attributes``: sizes, capacities, pressures, doses, modes…). Plain JSON,
listed in the manifest like every other index file; the loader checks it holds one entry per record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codefinder.indexer.attributes import (
    Attribute,
    Quantity,
    attribute_from_json,
    descriptor_attributes,
    is_dose_family,
)
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.roles import Role, generic_names, item_heads, item_qualifiers, record_role

FACETS_FORMAT = 1


@dataclass(frozen=True)
class Facets:
    role: Role
    attributes: tuple[Attribute, ...]

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role.to_json(), "attributes": [a.to_json() for a in self.attributes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Facets:
        return cls(Role.from_json(data["role"]), tuple(attribute_from_json(a) for a in data["attributes"]))


def descriptor_text(record: CodeRecord) -> str:
    """The text attributes are read from: the long descriptor, else the short one (short descriptors cut
    ranges short: "Foam drsg >16<=48 sq in w/bdr")."""
    return record.long_description or record.short_description or ""


def record_facets(records: list[CodeRecord], units: Mapping[str, str]) -> list[Facets]:
    items = item_heads(records)
    generics = generic_names(records)
    qualifiers = item_qualifiers(records)
    facets = []
    for record in records:
        attributes = descriptor_attributes(descriptor_text(record), units, record.drug_dosage)
        dosed = any(isinstance(a, Quantity) and is_dose_family(a.family) for a in attributes)
        facets.append(Facets(record_role(record, items, dosed, generics, qualifiers), attributes))
    return facets


def save_facets(facets: list[Facets], path: Path) -> None:
    data = {"format": FACETS_FORMAT, "records": [f.to_json() for f in facets]}
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def load_facets(path: Path) -> list[Facets]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FACETS_FORMAT or not isinstance(data.get("records"), list):
        raise ValueError(f"not a format {FACETS_FORMAT} facets file")
    return [Facets.from_json(entry) for entry in data["records"]]


def summarize(facets: list[Facets]) -> dict[str, int]:
    """What the manifest says about the facets: how many records are parts, variants, or state attributes."""
    return {
        "parts": sum(1 for f in facets if f.role.part),
        "variants": sum(1 for f in facets if f.role.variants),
        "with_attributes": sum(1 for f in facets if f.attributes),
    }
