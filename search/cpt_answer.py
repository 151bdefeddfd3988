"""What a search says when the query asks for CPT and the index has no CPT file to answer from.

- A query that is a code of CPT's form ("99213", "0001F") of a category the index does not hold gets no
  hits and the note "CPT code, not loaded; add your licensed CPT files" (a text search on "99213" would
  only find modifier T7).
- A query naming a CPT service ("mri brain without contrast", "office visit") when no Category I code is
  loaded keeps its Level II hits, with a ``needs_cpt`` note naming the services. When the query names the
  body site of the service, a hit that names only other sites (a breast MRI C code for a brain MRI) has its
  confidence capped below the no-match threshold, so the response says ``no_good_match`` instead of
  offering it with confidence. A hit for the same site or naming none (G0121 for "screening colonoscopy",
  G0390 for a trauma team's critical care) is a real Level II answer and keeps its confidence. So is a
  quality-reporting code capped ("tdap vaccine": M1171 reports that a Td vaccine was given; the vaccine and
  its administration are CPT).

Requiring a hit to cover every word of the query was measured and rejected: chargemaster lines carry
sizes, brands and levels ("MRKR BIOPSY SITE SHP3 15GA", "TRAUMA ACT FULL LVL 4") that no descriptor
names, and 10 of the 17 right first hits among the 19 noted lines of the dev chargemaster's tune part lost
their confidence; the body-site rule caps the wrong-site answer and none of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codefinder.indexer.knowledge import Knowledge
from codefinder.indexer.records import CodeRecord
from codefinder.search.code_sets import is_quality_reporting
from codefinder.search.cpt_intent import NOT_LOADED, body_regions_in, cpt_code_level, cpt_services_in

CODE = "code"
SERVICE = "service"


@dataclass(frozen=True)
class CptNote:
    """Why a query needs CPT: ``reason`` is ``code`` (the query is a CPT code not loaded) or ``service``
    (it names CPT services and no Category I code is loaded)."""

    reason: str
    message: str
    level: str | None = None
    services: tuple[dict[str, str], ...] = field(default_factory=tuple)
    regions: frozenset[str] = frozenset()  # the body regions the query names

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "level": self.level, "services": list(self.services)}

    def not_the_service(self, record: CodeRecord, knowledge: Knowledge | None) -> bool:
        """A hit that cannot be the CPT service the query names: one for another body site, or a
        quality-reporting code ("Patient received at least one Td vaccine …" for "tdap vaccine"), which
        reports a measure of the service and bills nothing."""
        if self.reason != SERVICE:
            return False
        return is_quality_reporting(record) or self.wrong_site(record, knowledge)

    def wrong_site(self, record: CodeRecord, knowledge: Knowledge | None) -> bool:
        """The query names a body site and the record names only other ones."""
        if not self.regions:
            return False
        named = body_regions_in(f"{record.long_description or ''} {record.short_description or ''}", knowledge)
        return bool(named) and not named & self.regions


def cpt_note(query: str, knowledge: Knowledge | None, loaded_levels: frozenset[str]) -> CptNote | None:
    """The note for a query, or None when it does not ask for CPT or the index can answer it."""
    level = cpt_code_level(query)
    if level is not None:
        if level in loaded_levels:
            return None
        return CptNote(CODE, NOT_LOADED, level=level)
    if "cpt-1" in loaded_levels:
        return None
    services = cpt_services_in(query, knowledge)
    if not services:
        return None
    named = tuple({"term": s.term, "service": s.service} for s in services)
    kinds = ", ".join(dict.fromkeys(s.service for s in services))
    message = f"names a CPT service ({kinds}); CPT codes are not loaded: add your licensed CPT files"
    return CptNote(SERVICE, message, services=named, regions=body_regions_in(query, knowledge))


def cpt_not_loaded(code: str, loaded_levels: frozenset[str]) -> str | None:
    """For a code the index does not hold: "99213: CPT code, not loaded; …" when it has CPT's form and its
    category is not loaded, else None (an unknown code like any other)."""
    level = cpt_code_level(code)
    if level is None or level in loaded_levels:
        return None
    return f"{code.strip().upper()}: {NOT_LOADED}"
