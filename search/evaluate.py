"""Retrieval metrics over a labeled query file: recall@1/5/10 and MRR, overall and by code letter."""

from __future__ import annotations

import csv
import hashlib
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefinder.indexer.errors import CodefinderError

# The dev chargemaster is split once into a tune part (70 %) and a check part (30 %) by a hash of the
# normalized description, so the split is fixed, needs no stored list, and repeated lines fall on one side.
# Tuning reads the tune part only; the check part is only ever scored, never read line by line.
SPLIT_SALT = "codefinder-dev-split-v1"
TUNE_SHARE = 70
SPLIT_PARTS = ("tune", "check")

QUERY_COLUMNS = ("query", "description")
GOLD_COLUMNS = ("gold", "code")
CUTOFFS = (1, 5, 10)


@dataclass
class LabeledQuery:
    query: str
    gold: tuple[str, ...]
    kind: str = ""

    @property
    def letter(self) -> str:
        first = self.gold[0]
        return first[0] if first[0].isalpha() else "digit"


@dataclass
class Outcome:
    item: LabeledQuery
    rank: int | None
    top: list[str]
    took_ms: float


@dataclass
class Metrics:
    count: int
    recall: dict[int, float]
    mrr: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
            "mrr": round(self.mrr, 4),
        }


@dataclass
class Report:
    overall: Metrics
    by_letter: dict[str, Metrics]
    by_kind: dict[str, Metrics]
    worst: list[Outcome] = field(default_factory=list)
    median_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "by_letter": {k: m.to_dict() for k, m in self.by_letter.items()},
            "by_kind": {k: m.to_dict() for k, m in self.by_kind.items()},
            "median_ms": round(self.median_ms, 3),
            "worst": [
                {"query": o.item.query, "gold": list(o.item.gold), "rank": o.rank, "top": o.top[:3]} for o in self.worst
            ],
        }


def split_part(text: str) -> str:
    """``tune`` or ``check``: which part of a split file a line belongs to (see ``SPLIT_SALT``)."""
    key = " ".join(text.lower().split())
    digest = hashlib.sha256(f"{SPLIT_SALT}\x00{key}".encode()).digest()
    return "tune" if int.from_bytes(digest[:4], "big") % 100 < TUNE_SHARE else "check"


def read_labeled(path: Path, cap_per_code: int | None = None, part: str | None = None) -> list[LabeledQuery]:
    """Rows with a query (or description) and gold codes (``|``-separated) or a code column; with ``part``,
    only that part of the tune/check split (before capping per code)."""
    if part is not None and part not in SPLIT_PARTS:
        raise CodefinderError(f"part must be one of {', '.join(SPLIT_PARTS)}, got {part!r}")
    if not path.is_file():
        raise CodefinderError(f"{path}: no such file")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.DictReader(lines)
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        query_col = next((columns[c] for c in QUERY_COLUMNS if c in columns), None)
        gold_col = next((columns[c] for c in GOLD_COLUMNS if c in columns), None)
        if query_col is None or gold_col is None:
            raise CodefinderError(f"{path}: needs a 'query' (or 'description') column and a 'gold' (or 'code') column")
        kind_col = columns.get("kind")
        items: list[LabeledQuery] = []
        per_code: dict[str, int] = defaultdict(int)
        for row in reader:
            query = (row.get(query_col) or "").strip()
            gold = tuple(code.strip().upper() for code in (row.get(gold_col) or "").split("|") if code.strip())
            if not query or not gold:
                continue
            if part is not None and split_part(query) != part:
                continue
            if cap_per_code is not None:
                if per_code[gold[0]] >= cap_per_code:
                    continue
                per_code[gold[0]] += 1
            items.append(LabeledQuery(query, gold, (row.get(kind_col) or "").strip() if kind_col else ""))
    if not items:
        raise CodefinderError(f"{path}: no labeled rows")
    return items


def metrics(outcomes: list[Outcome]) -> Metrics:
    count = len(outcomes)
    recall = {k: sum(1 for o in outcomes if o.rank is not None and o.rank <= k) / count for k in CUTOFFS}
    mrr = sum(1.0 / o.rank for o in outcomes if o.rank is not None) / count
    return Metrics(count, recall, mrr)


def evaluate(
    items: list[LabeledQuery], ranked_codes: Callable[[str], tuple[list[str], float]], worst: int = 20
) -> Report:
    """Run every query through ``ranked_codes`` (codes best first, and milliseconds taken)."""
    outcomes: list[Outcome] = []
    for item in items:
        codes, took = ranked_codes(item.query)
        rank = next((i for i, code in enumerate(codes, start=1) if code in item.gold), None)
        outcomes.append(Outcome(item, rank, codes, took))
    groups: dict[str, list[Outcome]] = defaultdict(list)
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.item.letter].append(outcome)
        if outcome.item.kind:
            kinds[outcome.item.kind].append(outcome)
    misses = sorted(
        (o for o in outcomes if o.rank is None or o.rank > 1),
        key=lambda o: (o.rank is not None, o.rank or 0),
        reverse=False,
    )
    misses = [o for o in misses if o.rank is None] + [o for o in misses if o.rank is not None]
    return Report(
        overall=metrics(outcomes),
        by_letter={letter: metrics(group) for letter, group in sorted(groups.items())},
        by_kind={kind: metrics(group) for kind, group in sorted(kinds.items())},
        worst=misses[:worst],
        median_ms=statistics.median(o.took_ms for o in outcomes),
    )
