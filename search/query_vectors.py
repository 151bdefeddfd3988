"""Query vectors: one text at a time (a search) or many in batches (every batch caller), with an LRU so
repeated queries and keystrokes skip the model."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from codefinder.models.encoder import Encoder


class QueryVectorCache:
    """A small thread-safe LRU of query vectors, keyed by the embedded text."""

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
        if self._maxsize <= 0:
            return
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


class QueryEmbedder:
    """The encoder behind the cache."""

    def __init__(self, encoder: Encoder, cache_size: int) -> None:
        self.encoder = encoder
        self.cache = QueryVectorCache(cache_size)

    def embed(self, text: str) -> np.ndarray:
        vector = self.cache.get(text)
        if vector is None:
            vector = self.encoder.encode([text])[0]
            self.cache.put(text, vector)
        return vector

    def missing_batches(self, texts: Iterable[str], batch_size: int) -> list[list[str]]:
        """The distinct texts not cached yet, shortest first, in model batches: a batch pads to its longest
        text, so like lengths together waste nothing."""
        missing = sorted((t for t in dict.fromkeys(texts) if self.cache.get(t) is None), key=len)
        return [missing[start : start + batch_size] for start in range(0, len(missing), batch_size)]

    def encode_batch(self, texts: list[str], batch_size: int) -> np.ndarray:
        """One model call for a batch; the vectors are cached for the searches that follow."""
        vectors = self.encoder.encode(texts, batch_size=batch_size)
        for text, vector in zip(texts, vectors, strict=True):
            self.cache.put(text, vector)
        return vectors
