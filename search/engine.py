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
from indexer.text import analyze
from models.encoder import Encoder
from search.autocomplete import PrefixIndex
from search.filters import Filters, RecordColumns
from search.fusion import FUSION_METHODS, ordered
from search.hits import Hit, SearchResponse
from search.keyword import KeywordRetriever
from search.loader import LoadedIndex
from search.query import code_intent, codes_with_prefix, normalize_query
from search.rewrite import QueryRewriter, RewrittenQuery
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
        self._rewriter = None
        if settings.use_knowledge and index.knowledge is not None:
            self._rewriter = QueryRewriter(
                index.knowledge,
                self._prefixes.vocabulary.frequencies(),
                expansion_weight=settings.expansion_weight,
                correct_typos=settings.correct_typos,
                cooccurrence=self._prefixes.cooccurrence,
            )

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
        depth = max(self.settings.candidate_depth, options.offset + options.limit)

        code_rows = self._code_rows(query, mask)
        rewritten = self.rewrite(query)
        rankings: dict[str, list[tuple[int, float]]] = {}
        degraded: list[str] = []
        if options.mode in ("hybrid", "keyword"):
            rankings["keyword"] = self._keyword.search(rewritten.keyword_terms, depth, mask)
        if options.mode in ("hybrid", "semantic"):
            try:
                rankings["semantic"] = self._vector.search(self._embed(rewritten.semantic_text), depth, mask)
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
        explain = Explainer(rewritten)
        hits = [self._hit(row, score, match, rank_of, explain, today) for row, score, match in page]
        return SearchResponse(
            query=query,
            mode=options.mode,
            total=len(ordered_rows),
            offset=options.offset,
            hits=hits,
            index_version=self.index.build_id,
            took_ms=round((time.perf_counter() - started) * 1000, 3),
            degraded=degraded,
            expansions=[e.to_dict() for e in rewritten.expansions],
            did_you_mean=rewritten.did_you_mean,
            ignored=rewritten.dropped,
        )

    def rewrite(self, query: str) -> RewrittenQuery:
        """The query as the retrievers see it: with domain knowledge when enabled, else its plain words."""
        if self._rewriter is not None:
            return self._rewriter.rewrite(query)
        stems = analyze(query)
        return RewrittenQuery(
            text=query, words=query.lower().split(), keyword_terms=[(s, 1.0) for s in stems], semantic_text=query
        )

    def _code_rows(self, query: str, allowed: np.ndarray | None) -> list[int]:
        intent = code_intent(query)
        codes = list(intent.exact)
        if intent.prefix:
            codes += codes_with_prefix(self.index.sorted_codes, intent.prefix, MAX_PREFIX_CODES)
        rows = [self.index.row_of_code[c] for c in dict.fromkeys(codes) if c in self.index.row_of_code]
        return [row for row in rows if allowed is None or allowed[row]]

    def _embed_uncached(self, query: str) -> np.ndarray:
        return self.encoder.encode([query])[0]

    def _record_terms_uncached(self, row: int) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
        record = self.index.records[row]
        words = frozenset(analyze(f"{record.long_description or ''} {record.short_description or ''}"))
        synonyms = tuple(
            (synonym, frozenset(analyze(synonym))) for synonym in [*record.synonyms, *record.knowledge_terms]
        )
        return words, synonyms

    def _hit(
        self,
        row: int,
        score: float,
        match: str,
        rank_of: dict[str, dict[int, int]],
        explain: Explainer,
        today: dt.date,
    ) -> Hit:
        record = self.index.records[row]
        words, synonyms = self._record_terms(row)
        synonym_stems = set().union(*(stems for _, stems in synonyms)) if synonyms else set()
        record_stems = words | synonym_stems
        matched_synonyms = [synonym for synonym, stems in synonyms if stems & explain.query_stems]
        ranks = {name: ranks.get(row) for name, ranks in rank_of.items()}
        hit = Hit.from_record(
            record, record.status_on(today), score, match, ranks, explain.words_matched(record_stems), matched_synonyms
        )
        hit.matched_expansions = explain.expansions_matched(record_stems)
        return hit


class Explainer:
    """Which of the query's words and expansions a record matched, in the user's words."""

    def __init__(self, rewritten: RewrittenQuery) -> None:
        self.word_of_stem: dict[str, str] = {}
        for word in rewritten.words:
            for stem in analyze(word):
                self.word_of_stem.setdefault(stem, word)
        self.expansion_stems = [(e, frozenset(analyze(e.target))) for e in rewritten.expansions]
        for expansion, stems in self.expansion_stems:
            for stem in stems:
                self.word_of_stem.setdefault(stem, expansion.target)
        self.query_stems = frozenset(self.word_of_stem)

    def words_matched(self, record_stems: frozenset[str] | set[str]) -> list[str]:
        return sorted({self.word_of_stem[stem] for stem in record_stems & self.query_stems})

    def expansions_matched(self, record_stems: frozenset[str] | set[str]) -> list[dict[str, str]]:
        return [e.to_dict() for e, stems in self.expansion_stems if stems & record_stems]
