"""Keyword retrieval: BM25F over long, short and synonym fields, OR of the query's words with a
coordination bonus. User text is analyzed into terms and built into query objects directly,
never handed to a query parser, so ``field:``, ``*`` or ``(((`` are just characters.
"""

from __future__ import annotations

import threading

from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from indexer.settings import Settings
from search.loader import LoadedIndex

Ranking = list[tuple[int, float]]


class KeywordRetriever:
    def __init__(self, index: LoadedIndex, settings: Settings) -> None:
        self._index = index
        self._weighting = BM25F(B=settings.bm25_b, K1=settings.bm25_k1, synonyms_B=settings.bm25_b_synonyms)
        self._fields = {
            "long": settings.weight_long,
            "short": settings.weight_short,
            "synonyms": settings.weight_synonyms,
        }
        self._scale = settings.coordination_scale
        self._local = threading.local()

    def _searcher(self) -> Searcher:
        """One searcher per thread, reused across queries (whoosh searchers are not thread-safe)."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._index.keyword_index.searcher(weighting=self._weighting)
            self._local.searcher = searcher
        return searcher

    def build_query(self, terms: list[str]) -> wq.Query | None:
        groups = [
            wq.Or([wq.Term(name, term, boost=weight) for name, weight in self._fields.items() if weight > 0])
            for term in dict.fromkeys(terms)
        ]
        if not groups:
            return None
        return wq.Or(groups, scale=self._scale) if len(groups) > 1 else groups[0]

    def search(self, terms: list[str], depth: int, allowed: set[int] | None = None) -> Ranking:
        query = self.build_query(terms)
        if query is None or (allowed is not None and not allowed):
            return []
        # optimize=False: whoosh's block-quality pruning drops true top hits under per-field boosts
        results = self._searcher().search(query, limit=depth, filter=allowed, optimize=False)
        return [(hit.docnum, float(hit.score)) for hit in results]
