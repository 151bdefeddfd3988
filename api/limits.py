"""Every user-controlled size, checked before any work is done."""

from __future__ import annotations

from codefinder.indexer.errors import QueryError
from codefinder.search.query import normalize_query

# A query is a description, a code or a short order ("ceftriaxone 1 g IVPB q24h"); a pasted note longer
# than this goes to /suggest, which finds each billable item in it.
MAX_QUERY_CHARS = 2000
MAX_SUGGEST_CHARS = 20_000
MAX_LIMIT_PER_ITEM = 20
MAX_LIMIT = 50
MAX_OFFSET = 1000
MAX_AUTOCOMPLETE = 20
MAX_BATCH_QUERIES = 100
MAX_VERIFY_ITEMS = 1000
MAX_CODE_CHARS = 16
CTSS_MAX_LIST = 500
CTSS_MAX_OFFSET = 7500
MAX_FIELD_LIST_CHARS = 512

# A raw query far past the limit is refused before it is normalized (normalizing costs time per character).
RAW_QUERY_LIMIT = 16 * MAX_QUERY_CHARS
TOO_LONG_HINT = "; for a note, an order set or a MAR with several items, POST it to /suggest"


def checked_query(text: str, name: str = "q") -> str:
    """The normalized query, or a QueryError (422 over HTTP, one line on the CLI) naming the limit it breaks;
    a text too long for a search is pointed to /suggest."""
    if len(text) > RAW_QUERY_LIMIT:
        raise QueryError(f"{name} is longer than {MAX_QUERY_CHARS} characters{TOO_LONG_HINT}")
    normalized = normalize_query(text)
    if not normalized:
        raise QueryError(f"{name} is empty")
    if len(normalized) > MAX_QUERY_CHARS:
        raise QueryError(f"{name} is longer than {MAX_QUERY_CHARS} characters ({len(normalized)}){TOO_LONG_HINT}")
    return normalized


def checked_document(text: str, name: str = "text") -> str:
    """Documentation text for /suggest, as sent (offsets point into it), or a QueryError naming the limit:
    at most MAX_SUGGEST_CHARS characters, and something other than white space."""
    if len(text) > MAX_SUGGEST_CHARS:
        raise QueryError(f"{name} is longer than {MAX_SUGGEST_CHARS:,} characters ({len(text):,}); send it in parts")
    if not normalize_query(text[:MAX_SUGGEST_CHARS]):
        raise QueryError(f"{name} is empty")
    return text
