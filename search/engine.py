"""The search engine: code lookup, keyword + semantic retrieval, fusion, filters, explanations."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from indexer.errors import QueryError
from indexer.records import CodeRecord
from indexer.settings import Settings
from indexer.text import analyze
from models.encoder import Encoder
from search.autocomplete import PrefixIndex
from search.confidence import Calibration
from search.filters import Filters, RecordColumns
from search.fusion import FUSION_METHODS, ordered
from search.hits import Hit, SearchResponse
from search.keyword import KeywordRetriever
from search.loader import LoadedIndex
from search.query import CodeIntent, code_intent, codes_with_prefix, normalize_query
from search.rerank import (
    UNSTATED_QUALIFIERS,
    apply_dose_agreement,
    apply_hospital_devices,
    apply_modifier_weight,
    apply_negation_agreement,
    apply_qualifier_agreement,
    apply_route_agreement,
    concentration_route,
    negation_facts,
    parse_doses,
    query_routes,
    record_doses,
    record_routes,
    stated_qualifiers,
)
from search.rewrite import QueryRewriter, RewrittenQuery
from search.vector import VectorRetriever

log = logging.getLogger(__name__)

MODES = ("hybrid", "keyword", "semantic")
# Who bills: "any", or "hospital" (a hospital outpatient department or chargemaster under OPPS, which
# reports implanted devices with the device category C codes rather than the DMEPOS L, A and E codes).
CARE_SETTINGS = ("any", "hospital")
MAX_PREFIX_CODES = 500


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 10
    offset: int = 0
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    setting: str = "any"


class SearchEngine:
    """Searches one loaded index. Thread-safe for concurrent queries; holds no mutable global state."""

    def __init__(self, index: LoadedIndex, encoder: Encoder, settings: Settings) -> None:
        if settings.fusion not in FUSION_METHODS:
            raise QueryError(f"unknown fusion method {settings.fusion!r}; use one of {', '.join(FUSION_METHODS)}")
        self.index = index
        self.settings = settings
        self.encoder = encoder
        self._keyword = KeywordRetriever(index, settings)
        self._vector = VectorRetriever(index, settings.vector_backend)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codefinder-embed")
        # one batch at a time: a second concurrent batch would only compete for the same cores
        self._batch_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codefinder-batch-embed")
        self._columns = RecordColumns(index.records)
        self._fuse = FUSION_METHODS[settings.fusion]
        self._weights = {"keyword": settings.keyword_weight, "semantic": settings.semantic_weight}
        self._embeddings = EmbeddingCache(maxsize=settings.query_embedding_cache)
        self._rewrite_cached = lru_cache(maxsize=4096)(self._rewrite_uncached)
        self._record_terms = lru_cache(maxsize=65536)(self._record_terms_uncached)
        self._record_stems = lru_cache(maxsize=65536)(self._record_stems_uncached)
        self._doses = lru_cache(maxsize=65536)(self._doses_uncached)
        self._routes = lru_cache(maxsize=65536)(lambda row: record_routes(self.index.records[row]))
        self._stems = lru_cache(maxsize=65536)(_stems_uncached)
        self._negations = lru_cache(maxsize=65536)(self._negations_uncached)
        self._qualifier_stems = frozenset(analyze(UNSTATED_QUALIFIERS))
        self._qualifiers = lru_cache(maxsize=65536)(self._qualifiers_uncached)
        self._terminated_by = lru_cache(maxsize=64)(
            lambda day: frozenset(np.flatnonzero(self._columns.termination < day).tolist())
        )
        self._prefixes = PrefixIndex(index.records, index.sorted_codes, index.row_of_code)
        self.calibration = Calibration.load(settings.calibration_file) if settings.use_knowledge else None
        self._rewriter = None
        if settings.use_knowledge and index.knowledge is not None:
            self._rewriter = QueryRewriter(
                index.knowledge,
                self._prefixes.vocabulary.frequencies(),
                expansion_weight=settings.expansion_weight,
                number_weight=settings.number_weight,
                lexicon=index.lexicon,
                correct_typos=settings.correct_typos,
                cooccurrence=self._prefixes.cooccurrence,
            )

    # --- lookups -------------------------------------------------------------------------
    def lookup(self, code: str) -> CodeRecord | None:
        row = self.index.row_of_code.get(code.strip().upper())
        return None if row is None else self.index.records[row]

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
        run = self.run(text, options)
        page = run.ordered[options.offset : options.offset + options.limit]
        hits = [self.hit(run, row, score, match) for row, score, match in page]
        top_confidence = max((hit.confidence for hit in hits if hit.confidence is not None), default=None)
        if options.offset > 0 and run.ordered:
            top_confidence = self.confidence(run, *run.ordered[0])
        threshold = self.calibration.no_match_threshold if self.calibration else None
        return SearchResponse(
            query=run.query,
            mode=options.mode,
            total=len(run.ordered),
            offset=options.offset,
            hits=hits,
            index_version=self.index.build_id,
            took_ms=round((time.perf_counter() - started) * 1000, 3),
            degraded=run.degraded,
            expansions=[e.to_dict() for e in run.rewritten.expansions],
            did_you_mean=run.rewritten.did_you_mean,
            ignored=run.rewritten.dropped,
            no_good_match=bool(
                not run.ordered or (threshold is not None and top_confidence is not None and top_confidence < threshold)
            ),
        )

    def run(self, text: str, options: SearchOptions) -> QueryRun:
        """Retrieve, fuse and order; everything a page of hits, confidences or a verification needs."""
        query = self._checked_query(text, options)
        today = options.filters.as_of or dt.date.today()
        mask = self._columns.mask(options.filters, today)
        rewritten = self.rewrite(query)
        # The query is embedded on a worker thread while keyword retrieval runs here (onnxruntime and
        # numpy release the GIL), so a hybrid query costs about the slower of the two, not their sum.
        embedding = self._pool.submit(self._embed, rewritten.semantic_text) if options.mode != "keyword" else None
        keyword = self._keyword_ranking(rewritten, options, mask)
        return self._assemble(query, options, today, mask, rewritten, keyword, embedding.result if embedding else None)

    def run_many(
        self, texts: list[str], options: SearchOptions, batch_size: int = 16
    ) -> Iterator[tuple[int, QueryRun]]:
        """(position in ``texts``, run) for every text, each run as ``run`` would make it from the same query
        vector, in the order they finish. The texts not embedded yet go to the model in batches on a worker
        thread while the ones already embedded are searched here (the model call releases the GIL), so many
        queries cost about the slower of embedding and searching, not their sum. Batches of 16 (shortest texts
        first): the first is ready sooner than one of 64, and short texts embed cheaper per text in small
        batches (measured 1.05 vs 1.3 ms a text)."""
        queries = [self._checked_query(text, options) for text in texts]
        today = options.filters.as_of or dt.date.today()
        mask = self._columns.mask(options.filters, today)
        rewritten = [self.rewrite(query) for query in queries]

        def assembled(i: int, vector: np.ndarray | None) -> QueryRun:
            keyword = self._keyword_ranking(rewritten[i], options, mask)
            return self._assemble(
                queries[i], options, today, mask, rewritten[i], keyword, None if vector is None else lambda: vector
            )

        if options.mode == "keyword":
            for i in range(len(queries)):
                yield i, assembled(i, None)
            return
        chunks = self._embedding_batches([r.semantic_text for r in rewritten], batch_size)
        futures = [self._batch_pool.submit(self.encoder.encode, chunk, batch_size) for chunk in chunks]
        pending = {text for chunk in chunks for text in chunk}
        waiting: dict[str, list[int]] = {}
        cached: list[int] = []
        for i, written in enumerate(rewritten):
            if written.semantic_text in pending:
                waiting.setdefault(written.semantic_text, []).append(i)
            else:
                cached.append(i)
        try:
            for i in cached:  # searched while the worker embeds the first batch
                vector = self._embeddings.get(rewritten[i].semantic_text)
                yield i, assembled(i, vector) if vector is not None else self.run(queries[i], options)
            for n, (chunk, future) in enumerate(zip(chunks, futures, strict=True)):
                try:
                    vectors = future.result()
                except Exception:  # as prime_embeddings: the rest embed (or degrade) one by one in run()
                    log.exception("batch embedding failed")
                    for later in futures[n:]:
                        later.cancel()
                    for text in (text for rest in chunks[n:] for text in rest):
                        for i in waiting[text]:
                            yield i, self.run(queries[i], options)
                    return
                for text, vector in zip(chunk, vectors, strict=True):
                    self._embeddings.put(text, vector)
                    for i in waiting[text]:
                        yield i, assembled(i, vector)
        finally:
            for future in futures:
                future.cancel()

    def _checked_query(self, text: str, options: SearchOptions) -> str:
        if options.mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, got {options.mode!r}")
        if options.setting not in CARE_SETTINGS:
            raise QueryError(f"setting must be one of {', '.join(CARE_SETTINGS)}, got {options.setting!r}")
        query = normalize_query(text)
        if not query:
            raise QueryError("the query is empty")
        return query

    def _keyword_ranking(
        self, rewritten: RewrittenQuery, options: SearchOptions, mask: np.ndarray | None
    ) -> list[tuple[int, float]] | None:
        if options.mode not in ("hybrid", "keyword"):
            return None
        return self._keyword.search(rewritten.keyword_terms, self._depth(options), mask)

    def _depth(self, options: SearchOptions) -> int:
        return max(self.settings.candidate_depth, options.offset + options.limit)

    def _assemble(
        self,
        query: str,
        options: SearchOptions,
        today: dt.date,
        mask: np.ndarray | None,
        rewritten: RewrittenQuery,
        keyword: list[tuple[int, float]] | None,
        query_vector_of: Callable[[], np.ndarray] | None,
    ) -> QueryRun:
        """The semantic ranking from the query vector (when asked for), fusion, reranking and ordering."""
        intent = code_intent(query)
        code_rows = self._code_rows(intent, mask)
        rankings: dict[str, list[tuple[int, float]]] = {}
        if keyword is not None:
            rankings["keyword"] = keyword
        degraded: list[str] = []
        query_vector: np.ndarray | None = None
        if query_vector_of is not None:
            try:
                query_vector = query_vector_of()
                rankings["semantic"] = self._vector.search(query_vector, self._depth(options), mask)
            except Exception:  # the encoder is a dependency that may fail; keyword results still help
                log.exception("semantic retrieval failed; answering from keyword retrieval")
                degraded.append("semantic")
                if options.mode == "semantic":
                    raise
        reranked = self._rerank(self._fuse(rankings, self._weights, self.settings.rrf_k), rewritten, options.setting)
        fused = ordered(self._current_first(reranked, today))
        fused = self._unclassified_first(fused, rewritten, mask)
        code_set = set(code_rows)
        top_score = fused[0][1] if fused else 1.0
        ordered_rows = [(row, top_score + 1.0, "code") for row in code_rows]
        ordered_rows += [(row, score, "text") for row, score in fused if row not in code_set]
        return QueryRun(
            query=query,
            today=today,
            rewritten=rewritten,
            explain=Explainer(rewritten, self._stems),
            rankings=rankings,
            rank_of={name: {row: rank for rank, (row, _) in enumerate(r, start=1)} for name, r in rankings.items()},
            score_of={name: dict(r) for name, r in rankings.items()},
            ordered=ordered_rows,
            query_vector=query_vector,
            degraded=degraded,
            exact_codes=set(intent.exact),
        )

    def _rerank(self, fused: dict[int, float], rewritten: RewrittenQuery, setting: str = "any") -> dict[int, float]:
        settings = self.settings
        if settings.use_knowledge and self.index.knowledge is not None:
            units = self.index.knowledge.unit_canonical
            # the doses the words state, and those an expansion states ("isovue 300" is 300-399 mg/ml)
            doses = parse_doses(f"{rewritten.text} {rewritten.semantic_text}", units)
            fused = apply_dose_agreement(fused, doses, self._doses, settings.dose_bonus)
            routes = query_routes(rewritten.text, rewritten.semantic_text) or concentration_route(rewritten.text)
            fused = apply_route_agreement(fused, routes, self._routes, settings.route_bonus)
            if settings.qualifier_penalty > 0:
                stated = stated_qualifiers(frozenset(stem for stem, _ in rewritten.keyword_terms))
                fused = apply_qualifier_agreement(fused, stated, self._qualifiers, settings.qualifier_penalty)
            if settings.negation_penalty > 0:
                said = negation_facts(rewritten.semantic_text, self._stems)
                fused = apply_negation_agreement(fused, said, self._negations, settings.negation_penalty)
        if setting == "hospital":
            fused = apply_hospital_devices(fused, self.index.records, settings.hospital_device_bonus)
        return apply_modifier_weight(fused, self.index.records, settings.modifier_weight)

    def _current_first(self, fused: dict[int, float], today: dt.date) -> dict[int, float]:
        """Terminated codes, when asked for (an old chargemaster under review), rank below current ones of
        like score: C9027 (pembrolizumab, ended 2015) must not outrank J9271."""
        weight = self.settings.terminated_weight
        ended = self._terminated_by(today.isoformat())
        if weight >= 1.0 or not ended:
            return fused
        return {row: score * weight if row in ended else score for row, score in fused.items()}

    def _unclassified_first(
        self, fused: list[tuple[int, float]], rewritten: RewrittenQuery, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        """A drug no descriptor names is billed with its NOC code (J3490, J3590, …): that code leads, and the
        words' nearest matches follow for the reviewer to rule out."""
        row = self.index.row_of_code.get(rewritten.unclassified_code or "")
        if row is None or (allowed is not None and not allowed[row]):
            return fused
        top = fused[0][1] if fused else 1.0
        return [(row, top * 1.01)] + [(r, score) for r, score in fused if r != row]

    def _qualifiers_uncached(self, row: int) -> frozenset[str]:
        """The qualifiers a record states (not those it says it is without: "non-esrd")."""
        found = self._record_terms(row)[0] & self._qualifier_stems
        return found - self._negations(row)[0] if found else found

    def _negations_uncached(self, row: int) -> tuple[frozenset[str], frozenset[str]]:
        record = self.index.records[row]
        return negation_facts(record.long_description or record.short_description or "", self._stems)

    def _doses_uncached(self, row: int) -> frozenset[tuple[float, str]]:
        units = self.index.knowledge.unit_canonical if self.index.knowledge else {}
        return record_doses(self.index.records[row], units)

    # --- confidence ----------------------------------------------------------------------
    def features(self, run: QueryRun, row: int) -> np.ndarray:
        """The calibration features of one row for one query (see search.confidence.FEATURES)."""
        best_fused = sum(self._weights.values()) / (self.settings.rrf_k + 1.0)
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
                run.all_keyword_scores = self._keyword.scores(run.rewritten.keyword_terms)
            keyword_score = float(run.all_keyword_scores[row])
        semantic = run.score_of.get("semantic", {}).get(row)
        if semantic is None and run.query_vector is not None:
            semantic = float(self.index.vectors[row] @ run.query_vector)
        record_stems = self._record_stems(row)
        own = run.explain.original_stems
        return np.array(
            [
                fused / best_fused if best_fused else 0.0,
                1.0 / (text_position + 1) if text_position is not None else 0.0,
                (keyword_score or 0.0) / top_keyword if top_keyword else 0.0,
                semantic or 0.0,
                len(own & record_stems) / len(own) if own else 0.0,
                (fused - following) / fused if fused else 0.0,
                1.0 if self.index.records[row].code == run.rewritten.unclassified_code else 0.0,
            ]
        )

    def confidence(self, run: QueryRun, row: int, score: float, match: str) -> float | None:
        if match == "code":
            return 1.0
        if self.calibration is None:
            return None
        return float(self.calibration.probability(self.features(run, row)[None, :])[0])

    def rewrite(self, query: str) -> RewrittenQuery:
        """The query as the retrievers see it: with domain knowledge when enabled, else its plain words."""
        return self._rewrite_cached(query)

    def _rewrite_uncached(self, query: str) -> RewrittenQuery:
        if self._rewriter is not None:
            return self._rewriter.rewrite(query)
        stems = analyze(query)
        return RewrittenQuery(
            text=query, words=query.lower().split(), keyword_terms=[(s, 1.0) for s in stems], semantic_text=query
        )

    def _code_rows(self, intent: CodeIntent, allowed: np.ndarray | None) -> list[int]:
        codes = list(intent.exact)
        if intent.prefix:
            codes += codes_with_prefix(self.index.sorted_codes, intent.prefix, MAX_PREFIX_CODES)
        rows = [self.index.row_of_code[c] for c in dict.fromkeys(codes) if c in self.index.row_of_code]
        return [row for row in rows if allowed is None or allowed[row]]

    def _embed(self, text: str) -> np.ndarray:
        vector = self._embeddings.get(text)
        if vector is None:
            vector = self.encoder.encode([text])[0]
            self._embeddings.put(text, vector)
        return vector

    def prime_embeddings(self, queries: list[str], batch_size: int = 64) -> None:
        """Embed many queries in batches ahead of searching them (batch search, search --file):
        one model call per batch costs far less per text than one call per text."""
        texts = [self.rewrite(normalize_query(q)).semantic_text for q in queries if normalize_query(q)]
        for chunk in self._embedding_batches(texts, batch_size):
            try:
                vectors = self.encoder.encode(chunk, batch_size=batch_size)
            except Exception:  # each search will embed (or degrade) on its own
                log.exception("batch embedding failed")
                return
            for text, vector in zip(chunk, vectors, strict=True):
                self._embeddings.put(text, vector)

    def _embedding_batches(self, texts: list[str], batch_size: int) -> list[list[str]]:
        """The distinct texts not cached yet, shortest first, in model batches: a batch pads to its longest
        text, so like lengths together waste nothing."""
        missing = sorted((t for t in dict.fromkeys(texts) if self._embeddings.get(t) is None), key=len)
        return [missing[start : start + batch_size] for start in range(0, len(missing), batch_size)]

    def _record_terms_uncached(self, row: int) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
        record = self.index.records[row]
        words = frozenset(analyze(f"{record.long_description or ''} {record.short_description or ''}"))
        synonyms = tuple(
            (synonym, frozenset(analyze(synonym))) for synonym in [*record.synonyms, *record.knowledge_terms]
        )
        return words, synonyms

    def _record_stems_uncached(self, row: int) -> frozenset[str]:
        """Every stem of a record's descriptions, synonyms and knowledge terms (coverage and explanations)."""
        words, synonyms = self._record_terms(row)
        return words.union(*(stems for _, stems in synonyms))

    def hit(self, run: QueryRun, row: int, score: float, match: str) -> Hit:
        """One row of a run as a hit that explains itself."""
        record = self.index.records[row]
        _, synonyms = self._record_terms(row)
        record_stems = self._record_stems(row)
        explain = run.explain
        matched_synonyms = [synonym for synonym, stems in synonyms if stems & explain.query_stems]
        ranks = {name: ranks.get(row) for name, ranks in run.rank_of.items()}
        hit = Hit.from_record(
            record,
            record.status_on(run.today),
            score,
            match,
            ranks,
            explain.words_matched(record_stems),
            matched_synonyms,
        )
        hit.matched_expansions = explain.expansions_matched(record_stems)
        confidence = self.confidence(run, row, score, match)
        hit.confidence = None if confidence is None else round(confidence, 4)
        return hit


def _stems_uncached(text: str) -> tuple[str, ...]:
    return tuple(analyze(text))


class EmbeddingCache:
    """A small thread-safe LRU of query vectors (repeated queries and keystrokes skip the model)."""

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is not None:
                self._items.move_to_end(text)
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


@dataclass
class QueryRun:
    """One query's retrieval results, kept together for paging, confidence and verification."""

    query: str
    today: dt.date
    rewritten: RewrittenQuery
    explain: Explainer
    rankings: dict[str, list[tuple[int, float]]]
    rank_of: dict[str, dict[int, int]]
    score_of: dict[str, dict[int, float]]
    ordered: list[tuple[int, float, str]]
    query_vector: np.ndarray | None
    degraded: list[str]
    exact_codes: set[str]
    all_keyword_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.text_rows = [(row, score) for row, score, match in self.ordered if match == "text"]
        self.text_position = {row: i for i, (row, _) in enumerate(self.text_rows)}


class Explainer:
    """Which of the query's words and expansions a record matched, in the user's words."""

    def __init__(self, rewritten: RewrittenQuery, stems_of: Callable[[str], Sequence[str]] = analyze) -> None:
        """``stems_of`` is ``analyze`` or a cache of it (the engine's: words recur across queries, and
        whoosh's analyzer costs ~10 µs a word)."""
        self.word_of_stem: dict[str, str] = {}
        for word in rewritten.words:
            for stem in stems_of(word):
                self.word_of_stem.setdefault(stem, word)
        self.expansion_stems = [(e, frozenset(stems_of(e.target))) for e in rewritten.expansions]
        for expansion, stems in self.expansion_stems:
            for stem in stems:
                self.word_of_stem.setdefault(stem, expansion.target)
        self.query_stems = frozenset(self.word_of_stem)
        self.original_stems = frozenset(stem for word in rewritten.words for stem in stems_of(word))

    def words_matched(self, record_stems: frozenset[str] | set[str]) -> list[str]:
        return sorted({self.word_of_stem[stem] for stem in record_stems & self.query_stems})

    def expansions_matched(self, record_stems: frozenset[str] | set[str]) -> list[dict[str, str]]:
        return [e.to_dict() for e, stems in self.expansion_stems if stems & record_stems]
