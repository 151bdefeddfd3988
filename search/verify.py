"""QA spot-check: is an assigned code consistent with its description?

The description is searched (hybrid, terminated codes included) and the assigned code is scored
with the same calibrated confidence a hit gets: at or above the calibration's verify threshold it is
consistent, below it suspect (with the better candidates). Without a calibration file the code's
rank decides instead: within ``verify_consistent_rank`` of the fused ranking, or within
``verify_retriever_rank`` of either retriever. Unknown and terminated codes get verdicts of their own.
"""

from __future__ import annotations

import datetime as dt
import json
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
    confidence: float | None
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
            "confidence": self.confidence,
            "record": record_dict(self.record, as_of) if self.record else None,
            "better_candidates": [hit.to_dict() for hit in self.better_candidates],
            "index_version": self.index_version,
        }


def record_dict(record: CodeRecord, as_of: dt.date | None = None) -> dict[str, Any]:
    """A record as the API shows it: every stored field, plus its level label and status."""
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
        return Verification(description, normalized_code, "unknown_code", None, None, None, None, [], version)
    settings = engine.settings
    options = SearchOptions(
        limit=settings.verify_depth, mode="hybrid", filters=Filters(include_terminated=True, as_of=as_of)
    )
    run = engine.run(description, options)
    row = engine.index.row_of_code[normalized_code]
    text_rows = [(r, score) for r, score, match in run.ordered if match == "text"]
    rank = next((i for i, (r, _) in enumerate(text_rows, start=1) if r == row), None)
    score = next((round(s, 6) for r, s in text_rows if r == row), None)
    confidence = engine.confidence(run, row, score or 0.0, "text")
    if record.status_on(as_of or dt.date.today()) == "terminated":
        verdict = "terminated"
    elif consistent(engine, run, row, rank, confidence):
        verdict = "consistent"
    else:
        verdict = "suspect"
    better: list[Hit] = []
    if verdict != "consistent":
        better = [engine.hit(run, r, s, m) for r, s, m in run.ordered if r != row][:candidates]
    return Verification(
        description,
        normalized_code,
        verdict,
        rank,
        score,
        None if confidence is None else round(confidence, 4),
        record,
        better,
        version,
    )


def consistent(engine: SearchEngine, run: Any, row: int, rank: int | None, confidence: float | None) -> bool:
    settings = engine.settings
    if engine.calibration is not None and confidence is not None:
        return confidence >= engine.calibration.verify_threshold
    best_retriever = min((ranks[row] for ranks in run.rank_of.values() if row in ranks), default=None)
    return (rank is not None and rank <= settings.verify_consistent_rank) or (
        best_retriever is not None and best_retriever <= settings.verify_retriever_rank
    )


def verify_many(engine: SearchEngine, pairs: list[tuple[str, str]], as_of: dt.date | None = None) -> list[Verification]:
    """Verify many (description, code) pairs; the descriptions are embedded in batches first (one model
    call per batch costs less per text than one call per text)."""
    engine.prime_embeddings([description for description, _ in pairs])
    return [verify(engine, description, code, as_of) for description, code in pairs]
