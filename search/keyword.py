"""Keyword retrieval: BM25F over the long, short, synonym and knowledge fields' postings.

The build saves each field's postings as plain arrays (``indexer.keyword_index``, terms analyzed by the
whoosh analyzer the query side uses); the loader verifies and opens them, and they are scored here in
numpy, because whoosh's own matchers cost tens of milliseconds per query in Python. Scoring is
BM25F proper (Robertson & Zaragoza): a word's frequencies are combined across fields, each
weighted and length-normalized with its own b, before one saturation and one IDF — so a common
word repeated in every field cannot outweigh a rare word found in one. Words combine with OR
semantics and a coordination bonus for matching more of them. User text reaches here only as
analyzed terms, never as query syntax."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codefinder.indexer.keyword_index import TEXT_FIELDS
from codefinder.indexer.settings import Settings
from codefinder.search.loader import LoadedIndex

Ranking = list[tuple[int, float]]
EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_TF = np.zeros(0, dtype=np.float32)


@dataclass
class FieldPostings:
    """One field's postings: term -> (doc ids, term frequencies), and every document's field length."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    lengths: np.ndarray

    def normalization(self, b: float) -> np.ndarray:
        """BM25's per-document length normalization for this field."""
        # Empty fields' lengths are NaN (whoosh reported them as None, and the postings keep its values),
        # so wherever a field is empty somewhere the mean is NaN and the average falls back to 1.0: the
        # weights were tuned on that. Switching to the true average (nanmean) reranks; retune if you do.
        average = float(self.lengths.mean()) if self.lengths.size and self.lengths.mean() > 0 else 1.0
        norm = (1.0 - b + b * self.lengths / average).astype(np.float32)
        norm[norm <= 0] = 1.0
        return norm


def read_postings(index: LoadedIndex) -> dict[str, FieldPostings]:
    """Every text field's postings as the loader opened them, wrapped once per loaded index."""
    cached = index.derived.get("postings")
    if cached is None:
        cached = {name: FieldPostings(*index.keyword_postings[name]) for name in TEXT_FIELDS}
        index.derived["postings"] = cached
    return cached


class KeywordRetriever:
    def __init__(self, index: LoadedIndex, settings: Settings) -> None:
        weights = {
            "long": settings.weight_long,
            "short": settings.weight_short,
            "synonyms": settings.weight_synonyms,
            "knowledge": settings.weight_knowledge if settings.use_knowledge else 0.0,
        }
        b_of = {
            "long": settings.bm25_b,
            "short": settings.bm25_b,
            "synonyms": settings.bm25_b_synonyms,
            "knowledge": settings.bm25_b_synonyms,
        }
        self._size = len(index.records)
        postings = read_postings(index)
        fields = [
            (postings[name].postings, postings[name].normalization(b_of[name]), weight)
            for name in TEXT_FIELDS
            if (weight := weights[name]) > 0
        ]
        self._terms = combine_fields(fields)
        self._k1 = settings.bm25_k1
        self._scale = settings.coordination_scale

    def term_frequency(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, the term's weighted length-normalized frequency in each), fields combined."""
        return self._terms.get(term, (EMPTY_IDS, EMPTY_TF))

    def scores(self, terms: list[tuple[str, float]]) -> np.ndarray:
        """BM25F score of every document; ``terms`` are (stem, weight) pairs, the query's own words 1."""
        total = np.zeros(self._size, dtype=np.float32)
        matched = np.zeros(self._size, dtype=np.float32)
        wanted = sum(boost for _, boost in dict(terms).items()) or 1.0
        for term, boost in dict(terms).items():
            ids, tf = self.term_frequency(term)
            if ids.size == 0:
                continue
            idf = math.log(1.0 + (self._size - ids.size + 0.5) / (ids.size + 0.5))
            total[ids] += boost * idf * tf / (self._k1 + tf)
            matched[ids] += boost
        return total * ((1.0 - self._scale) + self._scale * matched / wanted)

    def search(self, terms: list[tuple[str, float]], depth: int, allowed: np.ndarray | None = None) -> Ranking:
        if not terms:
            return []
        scores = self.scores(terms)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > depth:
            candidates = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
        order = np.lexsort((candidates, -scores[candidates]))
        return [(int(row), float(scores[row])) for row in candidates[order]]


def combine_fields(
    fields: list[tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, float]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per term, once at load: sum over fields of weight x frequency / length normalization (BM25F's
    combined frequency), as sparse (ids, values) so a query touches only the documents holding its words."""
    combined: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for postings, norm, weight in fields:
        for term, (ids, tfs) in postings.items():
            parts.setdefault(term, []).append((ids, (weight * tfs / norm[ids]).astype(np.float32)))
    for term, pieces in parts.items():
        if len(pieces) == 1:
            combined[term] = pieces[0]
            continue
        ids = np.concatenate([p[0] for p in pieces])
        values = np.concatenate([p[1] for p in pieces])
        unique, inverse = np.unique(ids, return_inverse=True)
        combined[term] = (unique.astype(np.int32), np.bincount(inverse, weights=values).astype(np.float32))
    return combined
