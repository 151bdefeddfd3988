"""Every user-controlled size, checked before any work is done."""

from __future__ import annotations

MAX_QUERY_CHARS = 256
MAX_LIMIT = 50
MAX_OFFSET = 1000
MAX_AUTOCOMPLETE = 20
MAX_BATCH_QUERIES = 100
MAX_VERIFY_ITEMS = 1000
MAX_CODE_CHARS = 16
CTSS_MAX_LIST = 500
CTSS_MAX_OFFSET = 7500
MAX_FIELD_LIST_CHARS = 512
