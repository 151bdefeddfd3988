"""Fusion methods: each takes per-retriever rankings and returns fused scores by row.

``rankings`` maps a retriever name to (row, score) pairs, best first.
"""

from __future__ import annotations

from collections.abc import Callable

Ranking = list[tuple[int, float]]
FusionFn = Callable[[dict[str, Ranking], dict[str, float], float], dict[int, float]]


def reciprocal_rank_fusion(rankings: dict[str, Ranking], weights: dict[str, float], k: float) -> dict[int, float]:
    """Sum of weight / (k + rank) over retrievers, rank counted from 1 (Cormack et al., 2009)."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, (row, _score) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


def weighted_score_fusion(rankings: dict[str, Ranking], weights: dict[str, float], k: float = 0.0) -> dict[int, float]:
    """Weighted sum of min-max normalized scores; a retriever that did not return a row adds 0."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        weight = weights.get(name, 1.0)
        scores = [score for _, score in ranking]
        low, high = min(scores), max(scores)
        span = high - low
        for row, score in ranking:
            normalized = (score - low) / span if span > 0 else 1.0
            fused[row] = fused.get(row, 0.0) + weight * normalized
    return fused


FUSION_METHODS: dict[str, FusionFn] = {
    "rrf": reciprocal_rank_fusion,
    "score": weighted_score_fusion,
}


def ordered(fused: dict[int, float]) -> list[tuple[int, float]]:
    """Best first; ties broken by row so results are deterministic."""
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
