"""The search engine: orchestration only. Each step lives in its own module: query rewriting
(``rewrite``), retrieval (``keyword``, ``vector``), fusion (``fusion``), reranking and ordering
(``ordering``), confidence (``confidence``), explanations (``explain``), per-record facts
(``record_facts``) and query vectors (``query_vectors``)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from codefinder.indexer.attributes import Attribute
from codefinder.indexer.errors import QueryError
from codefinder.indexer.records import CodeRecord
from codefinder.indexer.settings import Settings
from codefinder.indexer.text import analyze
from codefinder.models.encoder import Encoder
from codefinder.search.autocomplete import PrefixIndex
from codefinder.search.confidence import Calibration, ConfidenceScorer
from codefinder.search.cpt_answer import CODE, cpt_note
from codefinder.search.explain import Explainer
from codefinder.search.filters import Filters, RecordColumns
from codefinder.search.fusion import FUSION_METHODS, ordered
from codefinder.search.hits import Hit, SearchResponse
from codefinder.search.keyword import KeywordRetriever
from codefinder.search.loader import LoadedIndex
from codefinder.search.ordering import NotCurrentLast, Reranker, TerminatedLast, unclassified_first
from codefinder.search.query import CodeIntent, code_intent, codes_with_prefix, normalize_query
from codefinder.search.query_vectors import QueryEmbedder
from codefinder.search.record_facts import RecordFacts
from codefinder.search.rewrite import QueryRewriter, RewrittenQuery
from codefinder.search.run import QueryRun, Ranking
from codefinder.search.suggest.lexicon import MentionLexicon
from codefinder.search.vector import VectorRetriever
from codefinder.search.verify_policy import VerifyPolicy

log = logging.getLogger(__name__)

MODES = ("hybrid", "keyword", "semantic")
# Who bills: "any", or "hospital" (a hospital outpatient department or chargemaster under OPPS, which
# reports implanted devices with the device category C codes rather than the DMEPOS L, A and E codes).
CARE_SETTINGS = ("any", "hospital")
MAX_PREFIX_CODES = 500
# Texts per model call in a batch: the first batch is ready sooner, so searching starts sooner, and short
# texts embed cheaper per text in small batches (a note's ~23 mention texts, int8 model, one thread: about
# 3.0 ms a text in batches of 4, 3.9 in batches of 16; the mentions' whole search 89 vs 102 ms).
BATCH_SIZE = 4

__all__ = ["CARE_SETTINGS", "MODES", "QueryRun", "SearchEngine", "SearchOptions", "care_setting"]


# Words a text needs before its capitals say "chargemaster line" rather than an abbreviation typed alone ("CPAP").
MIN_CHARGE_LINE_WORDS = 2


def care_setting(setting: str, query: str) -> str:
    """The setting a search ranks for. ``any`` is no setting chosen, except that a line written as hospital
    chargemasters write their lines, in capitals ("BREAST IMPLANT SILICONE", "CATH BALLOON PTA"), is read as a
    hospital's: there the device category C code is what the hospital reports (``apply_hospital_devices``)."""
    if setting != "any" or any(c.islower() for c in query):
        return setting
    words = [word for word in query.split() if any(c.isalpha() for c in word)]
    return "hospital" if len(words) >= MIN_CHARGE_LINE_WORDS else setting


@dataclass(frozen=True)
class SearchOptions:
    """What a caller may choose for one search: page, retrievers, filters and who bills."""

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
        self._embedder = QueryEmbedder(encoder, settings.query_embedding_cache)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="codefinder-embed")
        # one batch at a time: a second concurrent batch would only compete for the same cores
        self._batch_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codefinder-batch-embed")
        self._columns = RecordColumns(index.records)
        self._fuse = FUSION_METHODS[settings.fusion]
        self._weights = {"keyword": settings.keyword_weight, "semantic": settings.semantic_weight}
        self.facts = RecordFacts(index)
        self._rerank = Reranker(index, self.facts, settings)
        self._terminated_last = TerminatedLast(self._columns, settings.terminated_weight)
        self._not_current_last = NotCurrentLast(self._columns, settings.not_current_weight)
        # the CPT categories the index holds: a CPT query of another category says it is not loaded
        self.cpt_levels = frozenset(r.level for r in index.records if r.system == "CPT")
        self._prefixes = PrefixIndex(index.records, index.sorted_codes, index.row_of_code)
        use_calibration = settings.use_knowledge and settings.calibration_file is not None
        self.calibration = Calibration.load(settings.calibration_file) if use_calibration else None  # type: ignore[arg-type]
        # where verify draws its lines, chosen for this calibration (bench/verify_rates.py)
        self.verify_policy = (
            VerifyPolicy.load(settings.verify_policy_file, settings.calibration_file)
            if self.calibration is not None and settings.verify_policy_file is not None
            else None
        )
        best_fused = sum(self._weights.values()) / (settings.rrf_k + 1.0)
        self._confidence = ConfidenceScorer(self.calibration, index, self._keyword, self.facts, best_fused)
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
        self._rewrite_cached = lru_cache(maxsize=4096)(self._rewrite_uncached)
        # what names a billable item in documentation text (search.suggest), built off the startup path
        self._mention_lexicon = self._pool.submit(MentionLexicon, index.records, index.knowledge, index.lexicon)
        self.has_cpt = any(record.system == "CPT" for record in index.records)

    @property
    def mention_lexicon(self) -> MentionLexicon:
        return self._mention_lexicon.result()

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
        return self.response(self.run(text, options), options, started)

    def search_many(self, texts: Sequence[str], options: SearchOptions = SearchOptions()) -> Iterator[SearchResponse]:
        """One response per text, in the order given (``run_many`` underneath)."""
        started = time.perf_counter()
        done: dict[int, QueryRun] = {}
        following = 0
        for position, run in self.run_many(texts, options):
            done[position] = run
            while following in done:
                yield self.response(done.pop(following), options, started)
                following += 1
                started = time.perf_counter()

    def response(self, run: QueryRun, options: SearchOptions, started: float) -> SearchResponse:
        """A page of a run's hits, with how the query was read and whether anything is good enough."""
        page = run.ordered[options.offset : options.offset + options.limit]
        hits = [self.hit(run, row, score, match) for row, score, match in page]
        top_confidence = max((hit.confidence for hit in hits if hit.confidence is not None), default=None)
        if options.offset > 0 and run.ordered:
            top_confidence = self.confidence(run, *run.ordered[0])
        threshold = self.calibration.no_match_threshold if self.calibration else None
        if run.ordered and run.ordered[0][2] == "code":
            threshold = None  # the query names a code: that is a match, whatever the words find
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
            needs_cpt=run.cpt_note.to_dict() if run.cpt_note else None,
        )

    def run(self, text: str, options: SearchOptions) -> QueryRun:
        """Retrieve, fuse and order; everything a page of hits, confidences or a verification needs."""
        query = self._checked_query(text, options)
        today = options.filters.as_of or dt.date.today()
        mask = self._columns.mask(options.filters, today)
        rewritten = self.rewrite(query)
        # The query is embedded on a worker thread while keyword retrieval runs here (onnxruntime and
        # numpy release the GIL), so a hybrid query costs about the slower of the two, not their sum.
        embedding: Future[np.ndarray] | None = None
        if options.mode != "keyword":
            embedding = self._pool.submit(self._embedder.embed, rewritten.semantic_text)
        keyword = self._keyword_ranking(rewritten, options, mask)
        return self._assemble(query, options, today, mask, rewritten, keyword, embedding.result if embedding else None)

    def run_many(
        self, texts: Sequence[str], options: SearchOptions, batch_size: int = BATCH_SIZE
    ) -> Iterator[tuple[int, QueryRun]]:
        """The one batch path (batch search, ``search --file``, verification, suggestions): (position in
        ``texts``, run) for every text, each run as ``run`` would make it from the same query vector, in the
        order they finish. The texts not embedded yet go to the model in batches on a worker thread while
        the ones already embedded are searched here (the model call releases the GIL), so many queries cost
        about the slower of embedding and searching, not their sum."""
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
        chunks = self._embedder.missing_batches((r.semantic_text for r in rewritten), batch_size)
        futures = [self._batch_pool.submit(self._embedder.encode_batch, chunk, batch_size) for chunk in chunks]
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
                vector = self._embedder.cache.get(rewritten[i].semantic_text)
                yield i, assembled(i, vector) if vector is not None else self.run(queries[i], options)
            for n, (chunk, future) in enumerate(zip(chunks, futures, strict=True)):
                try:
                    vectors = future.result()
                except Exception:  # the rest embed (or degrade) one by one in run()
                    log.exception("batch embedding failed")
                    for later in futures[n:]:
                        later.cancel()
                    for text in (text for rest in chunks[n:] for text in rest):
                        for i in waiting[text]:
                            yield i, self.run(queries[i], options)
                    return
                for text, vector in zip(chunk, vectors, strict=True):
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
    ) -> Ranking | None:
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
        keyword: Ranking | None,
        query_vector_of: Callable[[], np.ndarray] | None,
    ) -> QueryRun:
        """The semantic ranking from the query vector (when asked for), fusion, reranking and ordering."""
        intent = code_intent(query)
        code_rows = self._code_rows(intent, mask)
        rankings: dict[str, Ranking] = {}
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
        setting = care_setting(options.setting, query)
        reranked = self._rerank(self._fuse(rankings, self._weights, self.settings.rrf_k), rewritten, setting)
        fused = ordered(self._not_current_last(self._terminated_last(reranked, today), today))
        fused = unclassified_first(fused, self.index.row_of_code.get(rewritten.unclassified_code or ""), mask)
        code_set = set(code_rows)
        top_score = fused[0][1] if fused else 1.0
        ordered_rows = [(row, top_score + 1.0, "code") for row in code_rows]
        ordered_rows += [(row, score, "text") for row, score in fused if row not in code_set]
        note = cpt_note(query, self.index.knowledge, self.cpt_levels)
        if note is not None and note.reason == CODE:  # "99213" without CPT: no Level II text match is an answer
            ordered_rows = []
        return QueryRun.assemble(
            query,
            today,
            rewritten,
            Explainer(rewritten, self.facts.stems_of_text),
            rankings,
            ordered_rows,
            query_vector,
            degraded,
            set(intent.exact),
            note,
        )

    def _code_rows(self, intent: CodeIntent, allowed: np.ndarray | None) -> list[int]:
        codes = list(intent.exact)
        if intent.prefix:
            codes += codes_with_prefix(self.index.sorted_codes, intent.prefix, MAX_PREFIX_CODES)
        rows = [self.index.row_of_code[c] for c in dict.fromkeys(codes) if c in self.index.row_of_code]
        return [row for row in rows if allowed is None or allowed[row]]

    # --- query understanding, confidence, explanations --------------------------------------
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

    def stated_attributes(self, rewritten: RewrittenQuery) -> tuple[Attribute, ...]:
        """The attributes (sizes, capacities, modes…) a query states, as the reranking reads them; none with
        domain knowledge off."""
        if self._rewriter is None:
            return ()
        return self._rerank.wanted(rewritten.text, rewritten.semantic_text)

    def features(self, run: QueryRun, row: int) -> np.ndarray:
        """The calibration features of one row for one query (see ``search.confidence.FEATURES``)."""
        return self._confidence.features(run, row)

    def confidence(self, run: QueryRun, row: int, score: float, match: str) -> float | None:
        return self._confidence(run, row, match)

    def confidence_band(self, confidence: float | None) -> str | None:
        """high, possible or unlikely: the confidence in the words every answer uses."""
        return self._confidence.band(confidence)

    def hit(self, run: QueryRun, row: int, score: float, match: str) -> Hit:
        """One row of a run as a hit that explains itself."""
        record = self.index.records[row]
        _, synonyms = self.facts.terms(row)
        record_stems = self.facts.stems(row)
        explain = run.explain
        hit = Hit.from_record(
            record,
            record.status_on(run.today),
            score,
            match,
            {name: ranks.get(row) for name, ranks in run.rank_of.items()},
            explain.words_matched(record_stems),
            [synonym for synonym, stems in synonyms if stems & explain.query_stems],
        )
        hit.matched_expansions = explain.expansions_matched(record_stems)
        confidence = self._confidence(run, row, match)
        hit.confidence = None if confidence is None else round(confidence, 4)
        if match == "code":
            hit.confidence_band = "code" if record.code in run.exact_codes else "code prefix"
        else:
            hit.confidence_band = self.confidence_band(confidence)
        return hit
