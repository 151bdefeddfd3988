"""Text analysis shared by the keyword index and the query side, so both tokenize alike."""

from __future__ import annotations

from functools import lru_cache

from whoosh.analysis import Analyzer, StemmingAnalyzer

from codefinder.indexer.records import CodeRecord


@lru_cache(maxsize=1)
def analyzer() -> Analyzer:
    """Lower-case, drop English stop words, Porter-stem; keeps numbers and 1-char words dropped."""
    return StemmingAnalyzer(minsize=1)


def analyze(text: str) -> list[str]:
    return [token.text for token in analyzer()(text)]


def embedding_text(record: CodeRecord, max_synonyms: int = 6) -> str:
    """What the semantic side embeds for a record: its description plus a few drug/lay names."""
    text = record.description
    if record.short_description and record.long_description is None:
        text = record.short_description
    if record.synonyms:
        text = f"{text} ({', '.join(record.synonyms[:max_synonyms])})"
    return text
