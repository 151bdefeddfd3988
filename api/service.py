"""The one loaded engine the app serves from; loaded and checked once at startup."""

from __future__ import annotations

import logging

from api.context import AppContext
from api.errors import NotReady
from indexer.errors import CodefinderError
from search.engine import SearchEngine

log = logging.getLogger("codefinder.api")


class Service:
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.engine: SearchEngine | None = None
        self.load_error: str | None = "not loaded yet"

    def load(self) -> None:
        """Load the model and the index; on failure keep answering /healthz and say why on /readyz."""
        try:
            self.engine = self.context.engine()
            self.load_error = None
            log.info("serving index %s", self.engine.index.build_id)
        except CodefinderError as error:
            self.load_error = str(error)
            log.error("no index loaded: %s", error)

    def require(self) -> SearchEngine:
        if self.engine is None:
            raise NotReady(f"no index is loaded: {self.load_error}")
        return self.engine
