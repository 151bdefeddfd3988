"""What a search returns: hits that explain themselves, and the response around them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from codefinder.indexer.records import CodeRecord


def _about(text: str) -> dict[str, str]:
    """Field metadata: the description the HTTP schema (``api.schemas.HitOut``, derived from ``Hit``) shows."""
    return {"description": text}


@dataclass
class Hit:
    """One ranked code for a query, with what it is and why it matched."""

    code: str
    system: str = field(metadata=_about("HCPCS or CPT"))
    level: str = field(metadata=_about("hcpcs-2, hcpcs-modifier, cpt-1, cpt-2, cpt-3 or cpt-pla"))
    level_label: str = field(metadata=_about("the level or category in words"))
    kind: str = field(metadata=_about("code or modifier"))
    section: str | None = field(metadata=_about("the section letter (E, J, L…) of a HCPCS Level II code"))
    section_name: str | None
    long_description: str | None
    short_description: str | None
    status: str = field(
        metadata=_about(
            "on the as-of date: active, terminated, not_yet_effective (added later) or not_in_current_lists "
            "(newer lists that should carry it do not: see missing_from)"
        )
    )
    add_date: str | None
    effective_date: str | None
    termination_date: str | None
    score: float = field(metadata=_about("fused score; code matches rank above every text match"))
    match: str = field(metadata=_about("code (the query named it) or text"))
    ranks: dict[str, int | None] = field(metadata=_about("rank in each retriever that ran, or null"))
    matched_terms: list[str]
    matched_synonyms: list[str]
    noc: bool = field(metadata=_about("a 'not otherwise classified' code"))
    matched_expansions: list[dict[str, str]] = field(
        default_factory=list, metadata=_about("query expansions (brand, abbreviation, typo…) this hit matched")
    )
    confidence: float | None = field(
        default=None,
        metadata=_about(
            "calibrated probability that this is a right code; null for a code or code prefix the query names"
        ),
    )
    confidence_band: str | None = field(
        default=None,
        metadata=_about(
            "high, possible or unlikely (from the confidence); 'code' or 'code prefix' when the query names the code"
        ),
    )
    missing_from: list[str] = field(
        default_factory=list, metadata=_about("newer lists (file names) that should carry this code and do not")
    )
    replaced_by: list[str] = field(
        default_factory=list, metadata=_about("current codes that likely replace it (same drug or item, another unit)")
    )

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
            missing_from=record.missing_from,
            replaced_by=record.replaced_by,
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
    needs_cpt: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in RESPONSE_FIELDS}
        data["hits"] = [hit.to_dict() for hit in self.hits]
        return data


HIT_FIELDS = tuple(f.name for f in fields(Hit))
RESPONSE_FIELDS = tuple(f.name for f in fields(SearchResponse))
