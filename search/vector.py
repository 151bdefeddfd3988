"""Semantic retrieval: the query embedded by the index's model, nearest descriptors by inner product.

Vectors are normalized, so inner product = cosine. The default ("numpy") scores every vector exactly, but a
corpus of thousands is first scanned in half precision (a FAISS fp16 scalar-quantizer copy made at load: half
the memory to stream, SIMD-converted), and only its best candidates are scored exactly in fp32, so the
scores and the order are the exact ones (a wide margin of candidates: fp16 errs by ~1e-3, far less than the
gap to the 4 x depth-th candidate). ``vector_backend = "faiss"`` searches the index's flat FAISS index,
which is built and verified with every index.
"""

from __future__ import annotations

import faiss
import numpy as np

from codefinder.search.loader import LoadedIndex

Ranking = list[tuple[int, float]]
SCORE_DECIMALS = 4

faiss.omp_set_num_threads(1)  # one query at a time: threads cost more than they save at this size
# Below this many vectors one exact scan is as fast as any prefilter; above it, the fp16 scan comes first.
MIN_PREFILTERED = 2000
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 200


def half_precision_copy(vectors: np.ndarray) -> faiss.IndexScalarQuantizer:
    """The vectors in fp16 behind FAISS's SIMD scan (inner product): what the exact scoring starts from."""
    coarse = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    coarse.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return coarse


class VectorRetriever:
    def __init__(self, index: LoadedIndex, backend: str = "numpy") -> None:
        self._index = index
        self._backend = backend
        self._coarse = half_precision_copy(index.vectors) if len(index.vectors) >= MIN_PREFILTERED else None

    def search(self, query_vector: np.ndarray, depth: int, allowed_mask: np.ndarray | None = None) -> Ranking:
        total = len(self._index.records)
        depth = min(depth, total)
        if depth <= 0 or (allowed_mask is not None and not allowed_mask.any()):
            return []
        vector = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        if self._backend == "faiss":
            return self._faiss(vector, depth, allowed_mask)
        if self._coarse is not None:
            return self._prefiltered(vector, depth, allowed_mask)
        # Rounded to 1e-4: near-identical descriptors ("single delivery port" / "dual delivery port") then
        # tie and fall back to code order, instead of being ordered by float noise that differs between
        # a torch-built and an ONNX-built index or between CPUs.
        scores = np.round(self._index.vectors @ vector, SCORE_DECIMALS)
        if allowed_mask is not None:
            scores = np.where(allowed_mask, scores, -np.inf)
            depth = min(depth, int(allowed_mask.sum()))
        # by score, then row: rows tied at the cut are kept in row order, as the prefiltered path keeps them
        top = np.lexsort((np.arange(total), -scores))[:depth]
        return [(int(row), float(scores[row])) for row in top]

    def _prefiltered(self, vector: np.ndarray, depth: int, allowed_mask: np.ndarray | None) -> Ranking:
        """The half-precision scan's best ``CANDIDATES_PER_RESULT`` x depth rows, scored exactly (rounded as
        the full scan rounds) and ordered by score, then row."""
        assert self._coarse is not None
        wanted = min(len(self._index.records), max(depth * CANDIDATES_PER_RESULT, MIN_CANDIDATES))
        if allowed_mask is None:
            _, rows = self._coarse.search(vector[None, :], wanted)
        else:
            bitmap = np.packbits(allowed_mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(self._coarse.ntotal, faiss.swig_ptr(bitmap))
            _, rows = self._coarse.search(vector[None, :], wanted, params=faiss.SearchParameters(sel=selector))
        candidates = rows[0][rows[0] >= 0]
        scores = np.round(self._index.vectors[candidates] @ vector, SCORE_DECIMALS)
        order = np.lexsort((candidates, -scores))[:depth]
        return [(int(candidates[i]), float(scores[i])) for i in order]

    def _faiss(self, vector: np.ndarray, depth: int, allowed_mask: np.ndarray | None) -> Ranking:
        flat = self._index.faiss_index
        if allowed_mask is None:
            scores, rows = flat.search(vector[None, :], depth)
        else:
            bitmap = np.packbits(allowed_mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(flat.ntotal, faiss.swig_ptr(bitmap))
            scores, rows = flat.search(vector[None, :], depth, params=faiss.SearchParameters(sel=selector))
        return [(int(row), float(score)) for row, score in zip(rows[0], scores[0], strict=True) if row >= 0]
