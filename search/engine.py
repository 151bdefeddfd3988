"""The search engine: code lookup, keyword + semantic retrieval, fusion, filters, explanations."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from indexer.errors import QueryError
from indexer.records import CodeRecord
from indexer.settings import Settings
from indexer.text import analyze, analyze_with_words
from models.encoder import Encoder
from search.autocomplete import PrefixIndex
from search.filters import Filters, RecordColumns
from search.fusion import FUSION_METHODS, ordered
from search.hits import Hit, SearchResponse
from search.keyword import KeywordRetriever
from search.loader import LoadedIndex
from search.query import code_intent, codes_with_prefix, normalize_query
from search.vector import VectorRetriever

log = logging.getLogger(__name__)

MODES = ("hybrid", "keyword", "semantic")
MAX_PREFIX_CODES = 500


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 10
    offset: int = 0
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)


class SearchEngine:
    """Searches one loaded index. Thread-safe for concurrent queries; holds no mutable global state."""

    def __init__(self, index: LoadedIndex, encoder: Encoder, settings: Settings) -> None:
        if settings.fusion not in FUSION_METHODS:
            raise QueryError(f"unknown fusion method {settings.fusion!r}; use one of {', '.join(FUSION_METHODS)}")
        self.index = index
        self.settings = settings
        self.encoder = encoder
        self._keyword = KeywordRetriever(index, settings)
        self._vector = VectorRetriever(index)
        self._columns = RecordColumns(index.records)
        self._fuse = FUSION_METHODS[settings.fusion]
        self._weights = {"keyword": settings.keyword_weight, "semantic": settings.semantic_weight}
        self._embed = lru_cache(maxsize=4096)(self._embed_uncached)
        self._record_terms = lru_cache(maxsize=65536)(self._record_terms_uncached)
        self._prefixes = PrefixIndex(index.records, index.sorted_codes, index.row_of_code)

    # --- lookups -------------------------------------------------------------------------
    def lookup(self, code: str) -> CodeRecord | None:
        row = self.index.row_of_code.get(code.strip().upper())
        return None if row is None else self.index.records[row]

    def status_of(self, record: CodeRecord, as_of: dt.date | None = None) -> str:
        return record.status_on(as_of or dt.date.today())

    def autocomplete(self, text: str, limit: int = 8, filters: Filters | None = None) -> list[tuple[CodeRecord, str]]:
        """(record, "code" | "word") pairs for a partly typed query; no model call."""
        chosen = filters or Filters()
        mask = self._columns.mask(chosen, chosen.as_of or dt.date.today())
        return [(self.index.records[s.row], s.match) for s in self._prefixes.complete(text, limit, mask)]

    def prefix_matches(self, text: str, filters: Filters | None = None) -> list[int]:
        """Every row matching the query as code prefix or word prefixes, best first (for CTSS paging)."""
        chosen = filters or Filters()
        code_rows, word_rows = self._prefixes.matches(text, self._columns.mask(chosen, chosen.as_of or dt.date.today()))
        return code_rows + word_rows.tolist()

    # --- search --------------------------------------------------------------------------
    def search(self, text: str, options: SearchOptions = SearchOptions()) -> SearchResponse:
        started = time.perf_counter()
        if options.mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, got {options.mode!r}")
        query = normalize_query(text)
        if not query:
            raise QueryError("the query is empty")
        today = options.filters.as_of or dt.date.today()
        mask = self._columns.mask(options.filters, today)
        allowed = None if mask is None else set(np.flatnonzero(mask).tolist())
        depth = max(self.settings.candidate_depth, options.offset + options.limit)

        code_rows = self._code_rows(query, allowed)
        stem_words = analyze_with_words(query)
        terms = [stem for stem, _ in stem_words]
        rankings: dict[str, list[tuple[int, float]]] = {}
        degraded: list[str] = []
        if options.mode in ("hybrid", "keyword"):
            rankings["keyword"] = self._keyword.search(terms, depth, allowed)
        if options.mode in ("hybrid", "semantic"):
            try:
                rankings["semantic"] = self._vector.search(self._embed(query), depth, mask)
            except Exception:  # the encoder is a dependency that may fail; keyword results still help
                log.exception("semantic retrieval failed; answering from keyword retrieval")
                degraded.append("semantic")
                if options.mode == "semantic":
                    raise
        fused = ordered(self._fuse(rankings, self._weights, self.settings.rrf_k))
        rank_of = {name: {row: rank for rank, (row, _) in enumerate(r, start=1)} for name, r in rankings.items()}

        code_set = set(code_rows)
        top_score = fused[0][1] if fused else 1.0
        ordered_rows = [(row, top_score + 1.0, "code") for row in code_rows]
        ordered_rows += [(row, score, "text") for row, score in fused if row not in code_set]
        page = ordered_rows[options.offset : options.offset + options.limit]
        word_of_stem = {stem: word.lower() for stem, word in stem_words}
        hits = [self._hit(row, score, match, rank_of, word_of_stem, today) for row, score, match in page]
        return SearchResponse(
            query=query,
            mode=options.mode,
            total=len(ordered_rows),
            offset=options.offset,
            hits=hits,
            index_version=self.index.build_id,
            took_ms=round((time.perf_counter() - started) * 1000, 3),
            degraded=degraded,
        )

    def _code_rows(self, query: str, allowed: set[int] | None) -> list[int]:
        intent = code_intent(query)
        codes = list(intent.exact)
        if intent.prefix:
            codes += codes_with_prefix(self.index.sorted_codes, intent.prefix, MAX_PREFIX_CODES)
        rows = [self.index.row_of_code[c] for c in dict.fromkeys(codes) if c in self.index.row_of_code]
        return [row for row in rows if allowed is None or row in allowed]

    def _embed_uncached(self, query: str) -> np.ndarray:
        return self.encoder.encode([query])[0]

    def _record_terms_uncached(self, row: int) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
        record = self.index.records[row]
        words = frozenset(analyze(f"{record.long_description or ''} {record.short_description or ''}"))
        synonyms = tuple((synonym, frozenset(analyze(synonym))) for synonym in record.synonyms)
        return words, synonyms

    def _hit(
        self,
        row: int,
        score: float,
        match: str,
        rank_of: dict[str, dict[int, int]],
        word_of_stem: dict[str, str],
        today: dt.date,
    ) -> Hit:
        record = self.index.records[row]
        words, synonyms = self._record_terms(row)
        query_stems = word_of_stem.keys()
        matched_synonyms = [synonym for synonym, stems in synonyms if stems & query_stems]
        synonym_stems = set().union(*(stems for _, stems in synonyms)) if synonyms else set()
        matched = sorted({word_of_stem[stem] for stem in (words | synonym_stems) & query_stems})
        ranks = {name: ranks.get(row) for name, ranks in rank_of.items()}
        return Hit.from_record(record, record.status_on(today), score, match, ranks, matched, matched_synonyms)
