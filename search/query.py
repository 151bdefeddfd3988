"""Query understanding that needs no model: normalization and code / code-prefix detection."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

from codefinder.indexer.taxonomy import is_code

CODE_PREFIX = re.compile(r"[A-Z]\d{1,4}|\d{3,5}|\d{4}[FTU]")
CODE_TOKEN = re.compile(r"[A-Za-z]\d{4}|\d{4}[FTUftu]")
MODIFIER_WORDS = frozenset({"MODIFIER", "MODIFIERS"})  # not "MOD": a chargemaster's moderate, modular
TWO_LETTER_WORDS = frozenset(
    [
        "AM",
        "AN",
        "AS",
        "AT",
        "BE",
        "BY",
        "DO",
        "GO",
        "HE",
        "IF",
        "IN",
        "IS",
        "IT",
        "ME",
        "MY",
        "NO",
        "OF",
        "OK",
        "ON",
        "OR",
        "SO",
        "TO",
        "UP",
        "US",
        "WE",
    ]
)


# Categories that never carry meaning in a query: controls, format (zero-width, bidi overrides),
# surrogates (not encodable as UTF-8: a JSON answer echoing one would fail) and private use.
_NOISE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# U+FFFD is what a decoder leaves for bytes that were not UTF-8 (``%FF`` in a URL): noise too.
_REPLACEMENT = "\ufffd"


def normalize_query(text: str) -> str:
    """Lone surrogates dropped; NFKC; control, format, private-use and replacement characters to spaces;
    white space collapsed. Everything downstream (analyzers, the model, JSON answers echoing the query) then sees
    only printable, UTF-8-encodable text."""
    text = text.encode("utf-8", errors="ignore").decode("utf-8") if _has_surrogates(text) else text
    text = unicodedata.normalize("NFKC", text)
    cleaned = "".join(" " if ch == _REPLACEMENT or unicodedata.category(ch) in _NOISE_CATEGORIES else ch for ch in text)
    return " ".join(cleaned.split())


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


@dataclass(frozen=True)
class CodeIntent:
    """Codes a query names outright: exact code words, or the whole query as a code prefix."""

    exact: tuple[str, ...]
    prefix: str | None


def code_intent(query: str) -> CodeIntent:
    compact = query.strip().upper()
    prefix = compact if CODE_PREFIX.fullmatch(compact) else None
    exact = []
    words = [word for word in re.split(r"[\s,;/|-]+", compact) if word]
    # beside "modifier", a two-character word is the modifier named ("KX modifier", "modifier RT"), unless it
    # is an English word ("modifier for left side")
    names_modifier = any(word in MODIFIER_WORDS for word in words)
    for word in words:
        if not is_code(word):
            continue
        modifier = names_modifier and len(word) == 2 and word not in TWO_LETTER_WORDS
        if CODE_TOKEN.fullmatch(word) or word == compact or len(word) == 5 or modifier:
            exact.append(word)
    return CodeIntent(exact=tuple(dict.fromkeys(exact)), prefix=prefix)


def codes_with_prefix(sorted_codes: list[str], prefix: str, limit: int) -> list[str]:
    """Codes starting with ``prefix`` in code order, at most ``limit``."""
    found: list[str] = []
    start = bisect_left(sorted_codes, prefix)
    for code in sorted_codes[start:]:
        if not code.startswith(prefix) or len(found) >= limit:
            break
        found.append(code)
    return found
