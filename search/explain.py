"""Why a record matched: which of the query's words and expansions it shares, in the user's words."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codefinder.indexer.text import analyze
from codefinder.search.rewrite import RewrittenQuery


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
