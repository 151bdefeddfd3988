"""Search-as-you-type: code prefixes and word prefixes of descriptors and synonyms. No model call.

Words are lower-cased alphanumeric runs (no stemming: a prefix is matched as typed). Postings are
numpy arrays so a prefix's rows are a union of arrays, and several words intersect cheaply.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.text import descriptors, hyphen_joins
from codefinder.search.query import CODE_PREFIX, codes_with_prefix, normalize_query

WORD = re.compile(r"[a-z0-9]+")
MAX_WORDS_PER_PREFIX = 3000
MAX_CODE_MATCHES = 10_000
EMPTY = np.zeros(0, dtype=np.int32)


@dataclass(frozen=True)
class Suggestion:
    row: int
    match: str  # "code" or "word"


def shared_count(first: np.ndarray, second: np.ndarray) -> int:
    """How many rows two sorted postings share: each row of the shorter looked up in the longer (a query's
    common words have thousands of rows; sorting both together, as ``np.intersect1d`` does, costs more)."""
    short, long = (first, second) if first.size <= second.size else (second, first)
    if not short.size:
        return 0
    positions = np.minimum(np.searchsorted(long, short), long.size - 1)
    return int(np.count_nonzero(long[positions] == short))


class Vocabulary:
    """Sorted words with the rows holding each; prefix lookups are cached."""

    def __init__(self, texts: Iterable[str]) -> None:
        rows_of_word: dict[str, list[int]] = defaultdict(list)
        for row, text in enumerate(texts):
            for word in set(WORD.findall(text.lower())):
                rows_of_word[word].append(row)
        self.words = sorted(rows_of_word)
        self.postings = [np.array(rows_of_word[word], dtype=np.int32) for word in self.words]
        self._cached_prefix = lru_cache(maxsize=2048)(self._rows_for_prefix)

    def rows_for_prefix(self, prefix: str) -> np.ndarray:
        """Rows holding a word that starts with ``prefix``. Short prefixes union thousands of postings,
        so their results are cached (bounded); longer ones are cheap and computed each time."""
        return self._cached_prefix(prefix) if len(prefix) <= 3 else self._rows_for_prefix(prefix)

    def _rows_for_prefix(self, prefix: str) -> np.ndarray:
        start = bisect_left(self.words, prefix)
        end = bisect_left(self.words, prefix + "\uffff", lo=start)
        if start == end:
            return EMPTY
        return np.unique(np.concatenate(self.postings[start : min(end, start + MAX_WORDS_PER_PREFIX)]))

    def rows_for_word(self, word: str) -> np.ndarray:
        index = bisect_left(self.words, word)
        if index < len(self.words) and self.words[index] == word:
            return self.postings[index]
        return EMPTY

    def frequencies(self) -> dict[str, int]:
        """Word -> number of records holding it."""
        return {word: int(rows.size) for word, rows in zip(self.words, self.postings, strict=True)}


class PrefixIndex:
    """Built once per loaded index: every searchable word, and the words of the description alone."""

    def __init__(self, records: list[CodeRecord], sorted_codes: list[str], row_of_code: dict[str, int]) -> None:
        self._all = Vocabulary(
            " ".join([text, *r.synonyms, *r.knowledge_terms, *hyphen_joins(text)])
            for r in records
            for text in (descriptors(r),)
        )
        self._described = Vocabulary(r.description for r in records)
        self._lengths = np.array([len(record.description) for record in records], dtype=np.int32)
        self._sorted_codes = sorted_codes
        self._row_of_code = row_of_code

    @property
    def vocabulary(self) -> Vocabulary:
        return self._all

    def cooccurrence(self, word: str, others: list[str]) -> int:
        """How many records hold ``word`` together with one of ``others`` (summed over the others)."""
        rows = self._all.rows_for_word(word)
        return sum(shared_count(rows, self._all.rows_for_word(o)) for o in others)

    def matches(self, text: str, allowed: np.ndarray | None = None) -> tuple[list[int], np.ndarray]:
        """Every match, best first: rows whose code starts with the query, then rows whose words start
        with every query word. Word matches rank by how many query words the description itself holds
        whole, then as a prefix (not only the short form or synonyms), then whole anywhere, then shorter
        descriptions first (the general item before its variants)."""
        query = normalize_query(text).lower()
        compact = query.replace(" ", "").upper()
        code_rows: list[int] = []
        if compact and (CODE_PREFIX.fullmatch(compact) or compact in self._row_of_code):
            for code in codes_with_prefix(self._sorted_codes, compact, MAX_CODE_MATCHES):
                row = self._row_of_code[code]
                if allowed is None or allowed[row]:
                    code_rows.append(row)
        words = WORD.findall(query)
        if not words:
            return code_rows, EMPTY
        candidates = self._all.rows_for_prefix(words[0])
        for word in words[1:]:
            if candidates.size == 0:
                break
            candidates = np.intersect1d(candidates, self._all.rows_for_prefix(word), assume_unique=True)
        if allowed is not None:
            candidates = candidates[allowed[candidates]]
        if code_rows:
            candidates = candidates[~np.isin(candidates, np.array(code_rows, dtype=np.int32))]
        if candidates.size == 0:
            return code_rows, EMPTY
        whole_described = np.zeros(candidates.size, dtype=np.int32)
        prefix_described = np.zeros(candidates.size, dtype=np.int32)
        whole_anywhere = np.zeros(candidates.size, dtype=np.int32)
        for word in words:
            whole_described += np.isin(candidates, self._described.rows_for_word(word), assume_unique=True)
            prefix_described += np.isin(candidates, self._described.rows_for_prefix(word), assume_unique=True)
            whole_anywhere += np.isin(candidates, self._all.rows_for_word(word), assume_unique=True)
        order = np.lexsort(
            (candidates, self._lengths[candidates], -whole_anywhere, -prefix_described, -whole_described)
        )
        return code_rows, candidates[order]

    def complete(self, text: str, limit: int, allowed: np.ndarray | None = None) -> list[Suggestion]:
        code_rows, word_rows = self.matches(text, allowed)
        suggestions = [Suggestion(row, "code") for row in code_rows[:limit]]
        suggestions += [Suggestion(int(row), "word") for row in word_rows[: max(0, limit - len(suggestions))]]
        return suggestions
