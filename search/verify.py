"""QA spot-check: is an assigned code consistent with its description?

The code's place among the hybrid results for the description decides: within the top
``verify_consistent_rank`` of the fused ranking, or within the top ``verify_retriever_rank`` of
either retriever (one strong line of evidence, e.g. a brand name only the synonyms know), it is
consistent; otherwise suspect, with the better candidates.
Unknown codes and codes terminated on the as-of date get verdicts of their own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from indexer.records import CodeRecord
from search.engine import SearchEngine, SearchOptions
from search.filters import Filters
from search.hits import Hit

VERDICTS = ("consistent", "suspect", "unknown_code", "terminated")


@dataclass
class Verification:
    description: str
    code: str
    verdict: str
    rank: int | None
    score: float | None
    record: CodeRecord | None
    better_candidates: list[Hit] = field(default_factory=list)
    index_version: str = ""

    def to_dict(self, as_of: dt.date | None = None) -> dict[str, Any]:
        return {
            "description": self.description,
            "code": self.code,
            "verdict": self.verdict,
            "rank": self.rank,
            "score": self.score,
            "record": record_dict(self.record, as_of) if self.record else None,
            "better_candidates": [hit.to_dict() for hit in self.better_candidates],
            "index_version": self.index_version,
        }


def record_dict(record: CodeRecord, as_of: dt.date | None = None) -> dict[str, Any]:
    """A record as the API shows it: every stored field, plus its level label and status."""
    import json

    return {
        **json.loads(record.to_json()),
        "level_label": record.level_label,
        "status": record.status_on(as_of or dt.date.today()),
    }


def verify(
    engine: SearchEngine, description: str, code: str, as_of: dt.date | None = None, candidates: int = 5
) -> Verification:
    normalized_code = code.strip().upper()
    record = engine.lookup(normalized_code)
    version = engine.index.build_id
    if record is None:
        return Verification(description, normalized_code, "unknown_code", None, None, None, [], version)
    depth = engine.settings.verify_depth
    options = SearchOptions(limit=depth, mode="hybrid", filters=Filters(include_terminated=True, as_of=as_of))
    response = engine.search(description, options)
    text_hits = [hit for hit in response.hits if hit.match == "text" or hit.code != normalized_code]
    rank = next((i for i, hit in enumerate(text_hits, start=1) if hit.code == normalized_code), None)
    own = next((hit for hit in text_hits if hit.code == normalized_code), None)
    score = own.score if own else None
    best_retriever_rank = min((r for r in own.ranks.values() if r is not None), default=None) if own else None
    settings = engine.settings
    if record.status_on(as_of or dt.date.today()) == "terminated":
        verdict = "terminated"
    elif (rank is not None and rank <= settings.verify_consistent_rank) or (
        best_retriever_rank is not None and best_retriever_rank <= settings.verify_retriever_rank
    ):
        verdict = "consistent"
    else:
        verdict = "suspect"
    better = [hit for hit in text_hits if hit.code != normalized_code][:candidates] if verdict != "consistent" else []
    return Verification(description, normalized_code, verdict, rank, score, record, better, version)
