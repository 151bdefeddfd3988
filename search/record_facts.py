"""What the reranker, explanations and confidence read off each record, computed once per record and
kept (per loaded index): its stems, synonyms, doses, routes, negations and qualifiers."""

from __future__ import annotations

from functools import lru_cache

from codefinder.indexer.text import analyze
from codefinder.search.loader import LoadedIndex
from codefinder.search.rerank import UNSTATED_QUALIFIERS, Negations, negation_facts, record_doses, record_routes

CACHE_SIZE = 65536

RecordTerms = tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]


class RecordFacts:
    """Per-record facts behind LRU caches (whoosh's analyzer costs ~10 µs a word; a query touches the same
    near-top records again and again). Thread-safe: ``lru_cache`` is, and every fact is immutable."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self._units = index.knowledge.unit_canonical if index.knowledge else {}
        self._qualifier_stems = frozenset(analyze(UNSTATED_QUALIFIERS))
        self.stems_of_text = lru_cache(maxsize=CACHE_SIZE)(_stems_of_text)
        self.terms = lru_cache(maxsize=CACHE_SIZE)(self._terms)
        self.stems = lru_cache(maxsize=CACHE_SIZE)(self._stems)
        self.doses = lru_cache(maxsize=CACHE_SIZE)(self._doses)
        self.routes = lru_cache(maxsize=CACHE_SIZE)(self._routes)
        self.negations = lru_cache(maxsize=CACHE_SIZE)(self._negations)
        self.qualifiers = lru_cache(maxsize=CACHE_SIZE)(self._qualifiers)

    def _terms(self, row: int) -> RecordTerms:
        """(stems of the descriptions, (synonym, its stems) for each synonym and knowledge term)."""
        record = self.index.records[row]
        words = frozenset(analyze(f"{record.long_description or ''} {record.short_description or ''}"))
        synonyms = tuple(
            (synonym, frozenset(analyze(synonym))) for synonym in [*record.synonyms, *record.knowledge_terms]
        )
        return words, synonyms

    def _stems(self, row: int) -> frozenset[str]:
        """Every stem of a record's descriptions, synonyms and knowledge terms (coverage and explanations)."""
        words, synonyms = self.terms(row)
        return words.union(*(stems for _, stems in synonyms))

    def _doses(self, row: int) -> frozenset[tuple[float, str]]:
        return record_doses(self.index.records[row], self._units)

    def _routes(self, row: int) -> frozenset[str]:
        return record_routes(self.index.records[row])

    def _negations(self, row: int) -> Negations:
        record = self.index.records[row]
        return negation_facts(record.long_description or record.short_description or "", self.stems_of_text)

    def _qualifiers(self, row: int) -> frozenset[str]:
        """The qualifiers a record states (not those it says it is without: "non-esrd")."""
        found = self.terms(row)[0] & self._qualifier_stems
        return found - self.negations(row)[0] if found else found


def _stems_of_text(text: str) -> tuple[str, ...]:
    return tuple(analyze(text))
