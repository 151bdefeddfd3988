"""What a command or the app needs, made once: the settings and the encoders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codefinder.indexer.build import corpus_encoder
from codefinder.indexer.settings import Settings
from codefinder.models.encoder import Encoder
from codefinder.search.engine import SearchEngine
from codefinder.search.engine_factory import open_engine, query_encoder


@dataclass
class AppContext:
    """The settings, read once at the edge, and the encoders. ``encoder_factory`` replaces both real
    models (the fp32 corpus encoder and the int8 query encoder) with one of its own: tests pass a fake."""

    settings: Settings
    encoder_factory: Callable[[Settings], Encoder] | None = None
    _encoder: Encoder | None = None

    def build_encoder(self) -> Encoder:
        """The encoder that embeds the corpus (see ``indexer.build.corpus_encoder``)."""
        if self.encoder_factory is not None:
            return self.encoder_factory(self.settings)
        return corpus_encoder(self.settings)

    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use and kept: loading the model is the slow part of starting up."""
        if self._encoder is None:
            factory = self.encoder_factory or query_encoder
            self._encoder = factory(self.settings)
        return self._encoder

    def with_settings(self, **updates: Any) -> AppContext:
        """This context with some settings changed, for one command. ``self`` is left as it was (whoever holds
        it keeps its settings); an encoder already loaded is shared, not loaded again."""
        return replace(self, settings=self.settings.model_copy(update=updates))

    def engine(self, index: Path | None = None) -> SearchEngine:
        return open_engine(index or self.settings.index, self.settings, self.encoder())
