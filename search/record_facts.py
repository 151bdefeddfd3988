"""What the reranker, explanations and confidence read off each record, computed once per record and
kept (per loaded index): its stems, synonyms, routes, negations and qualifiers; its role and attributes
(doses among them) were read at build time (``indexer.facets``)."""

from __future__ import annotations

from functools import lru_cache

from codefinder.indexer.attributes import Attribute
from codefinder.indexer.roles import Role
from codefinder.indexer.text import analyze, descriptors
from codefinder.search.loader import LoadedIndex
from codefinder.search.rerank import (
    UNSTATED_QUALIFIERS,
    Negations,
    descriptor_words,
    negation_facts,
    record_routes,
)

CACHE_SIZE = 65536
NO_ROLE = Role()

RecordTerms = tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]


class RecordFacts:
    """Per-record facts behind LRU caches (whoosh's analyzer costs ~10 µs a word; a query touches the same
    near-top records again and again). Thread-safe: ``lru_cache`` is, and every fact is immutable."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self._qualifier_stems = frozenset(analyze(UNSTATED_QUALIFIERS))
        self.stems_of_text = lru_cache(maxsize=CACHE_SIZE)(_stems_of_text)
        self.terms = lru_cache(maxsize=CACHE_SIZE)(self._terms)
        self.stems = lru_cache(maxsize=CACHE_SIZE)(self._stems)
        self.routes = lru_cache(maxsize=CACHE_SIZE)(self._routes)
        self.negations = lru_cache(maxsize=CACHE_SIZE)(self._negations)
        self.qualifiers = lru_cache(maxsize=CACHE_SIZE)(self._qualifiers)
        self.descriptor_words = lru_cache(maxsize=CACHE_SIZE)(self._descriptor_words)

    def _terms(self, row: int) -> RecordTerms:
        """(stems of the descriptions, (synonym, its stems) for each synonym and knowledge term)."""
        record = self.index.records[row]
        words = frozenset(analyze(descriptors(record)))
        synonyms = tuple(
            (synonym, frozenset(analyze(synonym))) for synonym in [*record.synonyms, *record.knowledge_terms]
        )
        return words, synonyms

    def _descriptor_words(self, row: int) -> frozenset[str]:
        """The long descriptor's words as written: what the code itself says it is."""
        record = self.index.records[row]
        return descriptor_words(record.long_description or record.short_description or "")

    def _stems(self, row: int) -> frozenset[str]:
        """Every stem of a record's descriptions, synonyms and knowledge terms (coverage and explanations)."""
        words, synonyms = self.terms(row)
        return words.union(*(stems for _, stems in synonyms))

    def attributes(self, row: int) -> tuple[Attribute, ...]:
        return self.index.facets[row].attributes if self.index.facets else ()

    def role(self, row: int) -> Role:
        return self.index.facets[row].role if self.index.facets else NO_ROLE

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
