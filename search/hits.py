"""What a search returns: hits that explain themselves, and the response around them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from indexer.records import CodeRecord


@dataclass
class Hit:
    code: str
    system: str
    level: str
    level_label: str
    kind: str
    section: str | None
    section_name: str | None
    long_description: str | None
    short_description: str | None
    status: str
    add_date: str | None
    effective_date: str | None
    termination_date: str | None
    score: float
    match: str
    ranks: dict[str, int | None]
    matched_terms: list[str]
    matched_synonyms: list[str]
    noc: bool
    matched_expansions: list[dict[str, str]] = field(default_factory=list)
    confidence: float | None = None

    @classmethod
    def from_record(
        cls,
        record: CodeRecord,
        status: str,
        score: float,
        match: str,
        ranks: dict[str, int | None],
        matched_terms: list[str],
        matched_synonyms: list[str],
    ) -> Hit:
        return cls(
            code=record.code,
            system=record.system,
            level=record.level,
            level_label=record.level_label,
            kind=record.kind,
            section=record.section,
            section_name=record.section_name,
            long_description=record.long_description,
            short_description=record.short_description,
            status=status,
            add_date=record.add_date,
            effective_date=record.effective_date,
            termination_date=record.termination_date,
            score=round(score, 6),
            match=match,
            ranks=ranks,
            matched_terms=matched_terms,
            matched_synonyms=matched_synonyms,
            noc=record.is_noc(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Field by field (``asdict`` deep-copies and costs ~5x as much; every response builds ten of these)."""
        return {name: getattr(self, name) for name in HIT_FIELDS}


@dataclass
class SearchResponse:
    query: str
    mode: str
    total: int
    offset: int
    hits: list[Hit]
    index_version: str
    took_ms: float
    degraded: list[str] = field(default_factory=list)
    expansions: list[dict[str, str]] = field(default_factory=list)
    did_you_mean: str | None = None
    ignored: list[str] = field(default_factory=list)
    no_good_match: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in RESPONSE_FIELDS}
        data["hits"] = [hit.to_dict() for hit in self.hits]
        return data


HIT_FIELDS = tuple(f.name for f in fields(Hit))
RESPONSE_FIELDS = tuple(f.name for f in fields(SearchResponse))
