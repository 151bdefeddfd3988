"""Calibrated confidence: the probability that a hit is a right code for the query.

A logistic model over a few features of the hit (its fused score and rank, how its keyword and
semantic scores compare with the best, how much of the query it covers, its lead over the next
hit, whether it is the NOC code of a drug no descriptor names), fitted by ``bench/tune.py`` on the dev
data plus out-of-domain queries (whose hits are all wrong, so junk gets a low confidence) and stored
as plain JSON. The same model
drives ``no_good_match`` and, at the operating point ``search.verify_policy`` sets, the verdicts of verify.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codefinder.indexer.errors import CodefinderError

if TYPE_CHECKING:
    from codefinder.search.keyword import KeywordRetriever
    from codefinder.search.loader import LoadedIndex
    from codefinder.search.record_facts import RecordFacts
    from codefinder.search.run import QueryRun

# A hit at or above this confidence is "high" (about 7 in 10 such hits or more are right); from the calibration's
# no-match threshold up to it, "possible"; below, "unlikely".
HIGH_CONFIDENCE = 0.7

FEATURES = ("fused", "reciprocal_rank", "keyword", "semantic", "coverage", "margin", "unclassified")


@dataclass
class Calibration:
    weights: list[float]
    bias: float
    no_match_threshold: float
    features: tuple[str, ...] = FEATURES
    fitted_on: str = ""

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["features"] = list(self.features)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """The fitted model; a missing file or one fitted for other features is an error (confidences,
        ``no_good_match`` and verdicts all depend on it), never a silent fallback."""
        if not path.is_file():
            raise CalibrationError(f"calibration file {path} is missing (reinstall codefinder, or run `make tune`)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CalibrationError(f"calibration file {path} cannot be read: {error}") from error
        if tuple(data.get("features", ())) != FEATURES:
            raise CalibrationError(
                f"calibration file {path} was fitted for features {data.get('features')}, "
                f"this version computes {list(FEATURES)}; run `make tune`"
            )
        data["features"] = tuple(data["features"])
        # verify's threshold lived here before it became an operating point of its own (verify_policy.json)
        data.pop("verify_threshold", None)
        return cls(**data)


class CalibrationError(CodefinderError):
    """The confidence model is missing or does not fit this version."""


class ConfidenceScorer:
    """The calibration features of a hit for one query, and the calibrated probability from them."""

    def __init__(
        self,
        calibration: Calibration | None,
        index: LoadedIndex,
        keyword: KeywordRetriever,
        facts: RecordFacts,
        best_fused: float,
    ) -> None:
        """``best_fused`` is the highest fused score a hit can get (first in every retriever)."""
        self.calibration = calibration
        self.index = index
        self.keyword = keyword
        self.facts = facts
        self.best_fused = best_fused

    def features(self, run: QueryRun, row: int) -> np.ndarray:
        """The features of one row for one query, in the order of ``FEATURES``."""
        text_rows = run.text_rows
        text_position = run.text_position.get(row)
        fused = text_rows[text_position][1] if text_position is not None else 0.0
        following = (
            text_rows[text_position + 1][1] if text_position is not None and text_position + 1 < len(text_rows) else 0.0
        )
        top_keyword = run.rankings["keyword"][0][1] if run.rankings.get("keyword") else 0.0
        keyword_score = run.score_of.get("keyword", {}).get(row)
        if keyword_score is None and "keyword" in run.rankings:
            if run.all_keyword_scores is None:
                run.all_keyword_scores = self.keyword.scores(run.rewritten.keyword_terms)
            keyword_score = float(run.all_keyword_scores[row])
        semantic = run.score_of.get("semantic", {}).get(row)
        if semantic is None and run.query_vector is not None:
            semantic = float(self.index.vectors[row] @ run.query_vector)
        own = run.explain.original_stems
        return np.array(
            [
                fused / self.best_fused if self.best_fused else 0.0,
                1.0 / (text_position + 1) if text_position is not None else 0.0,
                (keyword_score or 0.0) / top_keyword if top_keyword else 0.0,
                semantic or 0.0,
                len(own & self.facts.stems(row)) / len(own) if own else 0.0,
                (fused - following) / fused if fused else 0.0,
                1.0 if self.index.records[row].code == run.rewritten.unclassified_code else 0.0,
            ]
        )

    def __call__(self, run: QueryRun, row: int, match: str) -> float | None:
        """The probability that ``row`` is a right code for the run's query; None for a code (or code prefix)
        the query names — it is the code asked for, not a guess — and when confidences are off. When the
        query names a CPT service and no CPT is loaded, a hit that cannot be that service (one naming only
        other body sites, a quality-reporting code) is capped at half the no-match threshold
        (search/cpt_answer.py)."""
        if match == "code" or self.calibration is None:
            return None
        probability = float(self.calibration.probability(self.features(run, row)[None, :])[0])
        if run.cpt_note is not None and run.cpt_note.not_the_service(self.index.records[row], self.index.knowledge):
            probability = min(probability, self.calibration.no_match_threshold / 2)
        return probability

    def band(self, confidence: float | None) -> str | None:
        """The confidence in words a coder reads at a glance."""
        if confidence is None or self.calibration is None:
            return None
        if confidence >= HIGH_CONFIDENCE:
            return "high"
        return "possible" if confidence >= self.calibration.no_match_threshold else "unlikely"


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Newton-Raphson (IRLS) logistic regression with a small L2 penalty; returns weights and bias."""
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    beta = np.zeros(design.shape[1])
    penalty = l2 * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
        gradient = design.T @ (p - y) + penalty @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) statistic, ties averaged."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per confidence bin: mean confidence, observed accuracy, count (for a reliability table)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    for low, high in itertools.pairwise(edges):
        inside = (probabilities >= low) & ((probabilities < high) if high < 1.0 else (probabilities <= high))
        if inside.any():
            table.append(
                {
                    "low": float(low),
                    "high": float(high),
                    "confidence": float(probabilities[inside].mean()),
                    "accuracy": float(labels[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return table


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    total = len(probabilities)
    return sum(
        row["count"] / total * abs(row["confidence"] - row["accuracy"])
        for row in reliability(probabilities, labels, bins)
    )
