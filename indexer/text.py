"""Text analysis shared by the keyword index and the query side, so both tokenize alike."""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.analysis import Analyzer, StemmingAnalyzer

from codefinder.indexer.records import CodeRecord


@lru_cache(maxsize=1)
def analyzer() -> Analyzer:
    """Lower-case, drop English stop words, Porter-stem; keeps numbers and 1-char words dropped."""
    return StemmingAnalyzer(minsize=1)


def analyze(text: str) -> list[str]:
    return [token.text for token in analyzer()(text)]


# Two words joined by a hyphen ("back-up", "bi-level", "semi-electric", "x-ray"), which people also write as one.
HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]{2,})\b")


def descriptors(record: CodeRecord) -> str:
    """A record's long and short descriptors, as one text."""
    return f"{record.long_description or ''} {record.short_description or ''}"


def hyphen_joins(text: str) -> list[str]:
    """The one-word spellings of a descriptor's hyphenated words ("back-up" -> "backup"): indexed with the
    record, so "bipap with backup rate" matches "… with back-up rate feature …" as it matches "… with backup
    rate feature …" (the analyzer splits the hyphenated word into two)."""
    return list(dict.fromkeys(first + second for first, second in HYPHENATED.findall(text.lower())))


def embedding_text(record: CodeRecord, max_synonyms: int = 6) -> str:
    """What the semantic side embeds for a record: its description plus a few drug/lay names."""
    text = record.description
    if record.short_description and record.long_description is None:
        text = record.short_description
    if record.synonyms:
        text = f"{text} ({', '.join(record.synonyms[:max_synonyms])})"
    return text
