"""QA spot-check: is an assigned code consistent with its description?

The description is searched (hybrid, terminated codes included) and the assigned code is scored
with the same calibrated confidence a hit gets: at or above the calibration's verify threshold it is
consistent, below it suspect (with the better candidates). Without a calibration file the code's
rank decides instead: within ``verify_consistent_rank`` of the fused ranking, or within
``verify_retriever_rank`` of either retriever. Unknown and terminated codes get verdicts of their own.
``verify_many`` answers a batch pair by pair the same way, searching each distinct description once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codefinder.indexer.records import CodeRecord
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.hits import Hit
from codefinder.search.query import normalize_query
from codefinder.search.run import QueryRun

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
    engine: SearchEngine,
    description: str,
    code: str,
    as_of: dt.date | None = None,
    candidates: int = 5,
    setting: str = "any",
) -> Verification:
    normalized_code = code.strip().upper()
    record = engine.lookup(normalized_code)
    if record is None:
        return unknown_code(engine, description, normalized_code)
    run = engine.run(description, verify_options(engine, as_of, setting))
    return judge(engine, run, description, normalized_code, record, candidates)


def verify_many(
    engine: SearchEngine,
    pairs: list[tuple[str, str]],
    as_of: dt.date | None = None,
    candidates: int = 5,
    check: Callable[[], None] | None = None,
    setting: str = "any",
) -> list[Verification]:
    """Verify many (description, code) pairs, each as ``verify`` would from the same query vector.
    Descriptions that normalize alike are searched once (QA files repeat them, each with several codes),
    and the searches are those of ``SearchEngine.run_many``: embedded in batches on a worker thread while
    earlier ones run. (The int8 model quantizes a batch as a whole, so a description embedded in a batch
    can score a little differently than embedded alone, as it did when batches were primed.)
    ``check`` is called between searches (a deadline check may raise there to stop the batch)."""
    codes = [code.strip().upper() for _, code in pairs]
    results: list[Verification | None] = [None] * len(pairs)
    groups: dict[str, list[tuple[int, CodeRecord]]] = {}
    for i, ((description, _), code) in enumerate(zip(pairs, codes, strict=True)):
        record = engine.lookup(code)
        if record is None:
            results[i] = unknown_code(engine, description, code)
        else:
            groups.setdefault(normalize_query(description), []).append((i, record))
    members = list(groups.values())
    # one description of each group, as given: run_many normalizes it exactly as verify's run would
    descriptions = [pairs[group[0][0]][0] for group in members]
    for position, run in engine.run_many(descriptions, verify_options(engine, as_of, setting)):
        for i, record in members[position]:
            results[i] = judge(engine, run, pairs[i][0], codes[i], record, candidates)
        if check is not None:
            check()
    return [result for result in results if result is not None]


def verify_options(engine: SearchEngine, as_of: dt.date | None, setting: str = "any") -> SearchOptions:
    """A verification searches deep enough to rank the code, terminated codes included."""
    return SearchOptions(
        limit=engine.settings.verify_depth,
        mode="hybrid",
        filters=Filters(include_terminated=True, as_of=as_of),
        setting=setting,
    )


def unknown_code(engine: SearchEngine, description: str, code: str) -> Verification:
    return Verification(description, code, "unknown_code", None, None, None, None, [], engine.index.build_id)


def judge(
    engine: SearchEngine,
    run: QueryRun,
    description: str,
    code: str,
    record: CodeRecord,
    candidates: int = 5,
) -> Verification:
    """The verdict on one known code from its description's run: its rank among the text matches, its
    fused score, its calibrated confidence; hits are built only for the better candidates of a pair that
    is not consistent (the costly part of a hit is its explanation)."""
    row = engine.index.row_of_code[code]
    position = run.text_position.get(row)
    rank = None if position is None else position + 1
    score = None if position is None else round(run.text_rows[position][1], 6)
    confidence = engine.confidence(run, row, score or 0.0, "text")
    if record.status_on(run.today) == "terminated":  # the run's day: as_of, else today
        verdict = "terminated"
    elif consistent(engine, run, row, rank, confidence):
        verdict = "consistent"
    else:
        verdict = "suspect"
    better: list[Hit] = []
    if verdict != "consistent":
        others = ((r, s, m) for r, s, m in run.ordered if r != row)
        better = [engine.hit(run, r, s, m) for r, s, m in itertools.islice(others, candidates)]
    return Verification(
        description,
        code,
        verdict,
        rank,
        score,
        None if confidence is None else round(confidence, 4),
        record,
        better,
        engine.index.build_id,
    )


def consistent(engine: SearchEngine, run: QueryRun, row: int, rank: int | None, confidence: float | None) -> bool:
    settings = engine.settings
    if engine.calibration is not None and confidence is not None:
        return confidence >= engine.calibration.verify_threshold
    best_retriever = min((ranks[row] for ranks in run.rank_of.values() if row in ranks), default=None)
    return (rank is not None and rank <= settings.verify_consistent_rank) or (
        best_retriever is not None and best_retriever <= settings.verify_retriever_rank
    )
