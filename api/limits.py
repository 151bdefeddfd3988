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
# A verify item's description: its own limit, whatever /search allows for a query.
MAX_VERIFY_DESCRIPTION_CHARS = 256
MAX_CODE_CHARS = 16
# A code as coders write it on a verify item, modifiers and all ("L3916-LT-RT"), and modifiers given apart.
MAX_WRITTEN_CODE_CHARS = 40
MAX_MODIFIERS = 10
MAX_BILLED_UNITS = 1_000_000
# A chunk of a CSV file posted to /verify/csv (the request body limit bounds it in bytes first).
MAX_CSV_CHUNK_CHARS = 256 * 1024
CTSS_MAX_LIST = 500
CTSS_MAX_OFFSET = 7500
MAX_FIELD_LIST_CHARS = 512
# FHIR ValueSet/$expand: a filtered expansion is a search and keeps the /search limits (limit, offset); an
# unfiltered one pages through a whole code system (~9,000 HCPCS codes, ~11,000 CPT), so it pages further.
# A count over its maximum is cut to it (the expansion says the count it used); an offset over its maximum
# is refused (a page from elsewhere would be a wrong answer).
FHIR_DEFAULT_FILTERED_COUNT = 10
FHIR_MAX_EXPAND_COUNT = 1000
FHIR_MAX_EXPAND_OFFSET = 100_000
FHIR_MAX_URI_CHARS = 512


TOO_LONG_HINT = "; for a note, an order set or a MAR with several items, POST it to /suggest"


def checked_query(text: str, name: str = "q", limit: int = MAX_QUERY_CHARS) -> str:
    """The normalized query, or a QueryError (422 over HTTP, one line on the CLI) naming the limit it breaks;
    a search text too long is pointed to /suggest. A raw text far past the limit is refused before it is
    normalized (normalizing costs time per character)."""
    hint = TOO_LONG_HINT if limit == MAX_QUERY_CHARS else ""
    if len(text) > 16 * limit:
        raise QueryError(f"{name} is longer than {limit} characters{hint}")
    if "\ufffd" in text:  # what a decoder leaves for bytes that were not UTF-8 (%FF in a URL)
        raise QueryError(f"{name} is not valid UTF-8: percent-encode the text's UTF-8 bytes (é is %C3%A9)")
    normalized = normalize_query(text)
    if not normalized:
        raise QueryError(f"{name} is empty")
    if len(normalized) > limit:
        raise QueryError(f"{name} is longer than {limit} characters ({len(normalized)}){hint}")
    return normalized


def checked_description(text: str, name: str = "description") -> str:
    """A verify item's description, normalized, within ``MAX_VERIFY_DESCRIPTION_CHARS``."""
    return checked_query(text, name, MAX_VERIFY_DESCRIPTION_CHARS)


def checked_document(text: str, name: str = "text") -> str:
    """Documentation text for /suggest, as sent (offsets point into it), or a QueryError naming the limit:
    at most MAX_SUGGEST_CHARS characters, and something other than white space."""
    if len(text) > MAX_SUGGEST_CHARS:
        raise QueryError(f"{name} is longer than {MAX_SUGGEST_CHARS:,} characters ({len(text):,}); send it in parts")
    if not normalize_query(text[:MAX_SUGGEST_CHARS]):
        raise QueryError(f"{name} is empty")
    return text
