"""The dev data every tuning and evaluation script uses, and helpers to run an engine over it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from codefinder.api.context import AppContext
from codefinder.indexer.settings import PROJECT_ROOT, Settings
from codefinder.models.encoder import Encoder
from codefinder.search.engine import SearchEngine, SearchOptions
from codefinder.search.evaluate import LabeledQuery, Report, evaluate, read_labeled
from codefinder.search.filters import Filters
from codefinder.search.loader import LoadedIndex, load_index
from codefinder.search.verify import verify

QUERY_FILE = PROJECT_ROOT / "data" / "eval" / "queries.csv"
# Head queries (the plain items coders look up) and sibling-attribute queries (sizes, capacities, modes…).
HEAD_FILE = PROJECT_ROOT / "data" / "eval" / "head_queries.csv"
SIBLING_FILE = PROJECT_ROOT / "data" / "eval" / "sibling_queries.csv"
CAP_PER_CODE = 3
# The dev chargemaster is hospitals' charge lines: it is searched as a hospital would search it.
CHARGEMASTER_SETTING = "hospital"


class CachingEncoder:
    """Wraps the real encoder so repeated runs over the same queries embed each text once."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing, batch_size=batch_size), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts])


@dataclass
class DevData:
    """``chargemaster`` is the tune part of the dev chargemaster (70 %, capped per code): the only part any
    tuning or calibration reads. ``chargemaster_check`` (30 %) is only scored, for reports. ``queries``,
    ``head`` and ``siblings`` are the project's own query files (tuning may read them)."""

    chargemaster: list[LabeledQuery]
    queries: list[LabeledQuery]
    chargemaster_check: list[LabeledQuery]
    head: list[LabeledQuery]
    siblings: list[LabeledQuery]

    @classmethod
    def load(cls, settings: Settings) -> DevData:
        path = settings.data_dir / "eval" / "dev_chargemaster.csv"
        return cls(
            chargemaster=read_labeled(path, CAP_PER_CODE, part="tune"),
            queries=read_labeled(QUERY_FILE),
            chargemaster_check=read_labeled(path, CAP_PER_CODE, part="check"),
            head=read_labeled(HEAD_FILE),
            siblings=read_labeled(SIBLING_FILE),
        )

    def sets(self) -> dict[str, tuple[list[LabeledQuery], str]]:
        """Every evaluation set by name, with the care setting it is searched in."""
        return {
            "dev chargemaster, tune part": (self.chargemaster, CHARGEMASTER_SETTING),
            "dev chargemaster, check part": (self.chargemaster_check, CHARGEMASTER_SETTING),
            "query file": (self.queries, "any"),
            "head queries": (self.head, "any"),
            "sibling-attribute queries": (self.siblings, "any"),
        }


@dataclass
class Workbench:
    """A loaded index and a cached encoder, to build engines with different settings cheaply."""

    settings: Settings
    index: LoadedIndex
    encoder: CachingEncoder

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workbench:
        settings = settings or Settings()
        context = AppContext(settings=settings)
        return cls(settings, load_index(settings.index), CachingEncoder(context.encoder()))

    def engine(self, **overrides: Any) -> SearchEngine:
        return SearchEngine(self.index, self.encoder, self.settings.model_copy(update=overrides))

    def uncached_engine(self, **overrides: Any) -> SearchEngine:
        """An engine on the bare encoder, for timing: every new text is really embedded."""
        return SearchEngine(self.index, self.encoder.inner, self.settings.model_copy(update=overrides))


def ranker(
    engine: SearchEngine, mode: str = "hybrid", setting: str = "any"
) -> Callable[[str], tuple[list[str], float]]:
    options = SearchOptions(limit=10, mode=mode, filters=Filters(include_terminated=True), setting=setting)

    def ranked(query: str) -> tuple[list[str], float]:
        started = time.perf_counter()
        hits = engine.search(query, options).hits
        return [hit.code for hit in hits], (time.perf_counter() - started) * 1000

    return ranked


def run_eval(engine: SearchEngine, items: list[LabeledQuery], mode: str = "hybrid", setting: str = "any") -> Report:
    return evaluate(items, ranker(engine, mode, setting), worst=25)


def verify_pairs(engine: SearchEngine, items: list[LabeledQuery], seed: int = 7) -> list[tuple[str, str, bool]]:
    """(description, code, is_right) pairs: each dev pair, and a negative made by swapping in another code
    from the same section letter."""
    rng = random.Random(seed)
    by_section: dict[str, list[str]] = {}
    for record in engine.index.records:
        if record.kind == "code" and record.section:
            by_section.setdefault(record.section, []).append(record.code)
    pairs: list[tuple[str, str, bool]] = []
    for item in items:
        gold = item.gold[0]
        record = engine.lookup(gold)
        if record is None or not record.section:
            continue
        pairs.append((item.query, gold, True))
        others = [code for code in by_section[record.section] if code not in item.gold]
        if others:
            pairs.append((item.query, rng.choice(others), False))
    return pairs


def verify_scores(engine: SearchEngine, pairs: list[tuple[str, str, bool]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    confidences, labels, verdicts = [], [], []
    for description, code, right in pairs:
        result = verify(engine, description, code)
        # without a calibration (plain hybrid) the code's rank is the score: 1/rank, 0 when not ranked
        rank_score = 1.0 / result.rank if result.rank else 0.0
        confidences.append(result.confidence if result.confidence is not None else rank_score)
        labels.append(right)
        verdicts.append(result.verdict)
    return np.array(confidences), np.array(labels), verdicts
