"""Semantic retrieval: the query embedded by the index's model, nearest descriptors by inner product."""

from __future__ import annotations

import faiss
import numpy as np

from search.loader import LoadedIndex

Ranking = list[tuple[int, float]]

faiss.omp_set_num_threads(1)  # one query at a time: threads cost more than they save at this size


class VectorRetriever:
    def __init__(self, index: LoadedIndex) -> None:
        self._index = index

    def search(self, query_vector: np.ndarray, depth: int, allowed_mask: np.ndarray | None = None) -> Ranking:
        total = self._index.faiss_index.ntotal
        depth = min(depth, total)
        if depth <= 0:
            return []
        vector = np.ascontiguousarray(query_vector.reshape(1, -1), dtype=np.float32)
        if allowed_mask is None:
            scores, rows = self._index.faiss_index.search(vector, depth)
        else:
            if not allowed_mask.any():
                return []
            bitmap = np.packbits(allowed_mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(total, faiss.swig_ptr(bitmap))
            params = faiss.SearchParameters(sel=selector)
            scores, rows = self._index.faiss_index.search(vector, depth, params=params)
        return [(int(row), float(score)) for row, score in zip(rows[0], scores[0], strict=False) if row >= 0]
