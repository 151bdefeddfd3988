"""A drop-in for NLM's Clinical Tables HCPCS API (``/api/hcpcs/v3/search``).

Same parameters (terms, maxList, count, offset, q, df, sf, cf, ef) and the same array-shaped
answer ``[total, codes, extra fields or null, display strings]``. Every word of ``terms`` must
match the start of a word (implicit AND), as there. ``q`` takes ``field:value`` constraints
(``is_noc:true``, ``obsolete:false``, ``code:E06*``) combined with AND, OR, NOT and parentheses, and plain
words (``api/ctss_query.py``); it is never handed to a query engine. When nothing matches by prefix, the
answer comes from codefinder's hybrid search.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from codefinder.api import limits
from codefinder.api.ctss_query import parse_q
from codefinder.api.limits import checked_query
from codefinder.api.schemas import error_responses
from codefinder.api.service import pinned_engine
from codefinder.indexer.errors import QueryError
from codefinder.indexer.records import CodeRecord
from codefinder.search.engine import SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.query import normalize_query


def _cms_date(value: str | None) -> str | None:
    return value.replace("-", "") if value else None


FIELDS: dict[str, Callable[[CodeRecord, dt.date], Any]] = {
    "code": lambda r, _d: r.code,
    "display": lambda r, _d: r.description,
    "short_desc": lambda r, _d: r.short_description,
    "long_desc": lambda r, _d: r.long_description,
    "add_dt": lambda r, _d: _cms_date(r.add_date),
    "act_eff_dt": lambda r, _d: _cms_date(r.effective_date),
    "term_dt": lambda r, _d: _cms_date(r.termination_date),
    "obsolete": lambda r, d: r.status_on(d) == "terminated",
    "is_noc": lambda r, _d: r.is_noc(),
}
SEARCHABLE = {"code", "display", "short_desc", "long_desc"}
ASCII_DIGITS = re.compile(r"[0-9]{1,6}")

router = APIRouter(tags=["clinical tables compatible"])


def _field_list(raw: str | None, default: str, name: str) -> list[tuple[str, str]]:
    """``field`` or ``field:alias`` items; 422 for a field this data set does not have."""
    text = default if raw is None or not raw.strip() else raw
    if len(text) > limits.MAX_FIELD_LIST_CHARS:
        raise QueryError(f"{name} is longer than {limits.MAX_FIELD_LIST_CHARS} characters")
    items = []
    for part in text.split(","):
        field, _, alias = part.strip().partition(":")
        if field not in FIELDS:
            raise QueryError(f"{name}: unknown field {field!r}; fields are {', '.join(FIELDS)}")
        # The alias comes back as a JSON key: cleaned like a query, so no control or unencodable character is echoed.
        items.append((field, normalize_query(alias) or field))
    return items


@router.get("/api/hcpcs/v3/search", responses=error_responses(422, 503))
def clinical_tables_search(
    request: Request,
    terms: Annotated[str, Query(description="words or partial words; implicit AND")],
    maxList: Annotated[str | None, Query(description="results wanted (default 7, at most 500; empty = 500)")] = None,
    count: Annotated[int | None, Query(ge=1, le=limits.CTSS_MAX_LIST, description="page size")] = None,
    offset: Annotated[int, Query(ge=0, le=limits.CTSS_MAX_OFFSET)] = 0,
    q: Annotated[str | None, Query(max_length=limits.MAX_QUERY_CHARS)] = None,
    df: Annotated[str | None, Query(description="display fields (default code,display)")] = None,
    sf: Annotated[str | None, Query(description="search fields (default code,short_desc,long_desc)")] = None,
    cf: Annotated[str | None, Query(description="code field (default code)")] = None,
    ef: Annotated[str | None, Query(description="extra fields, each field or field:alias")] = None,
) -> list[Any]:
    engine = pinned_engine(request)
    page_size = _page_size(maxList, count)
    display = _field_list(df, "code,display", "df")
    extra = _field_list(ef, "", "ef") if ef else []
    code_field = _field_list(cf, "code", "cf")[0][0]
    search_fields = {field for field, _ in _field_list(sf, "code,short_desc,long_desc", "sf")}
    if not search_fields <= SEARCHABLE:
        raise QueryError(f"sf: searchable fields are {', '.join(sorted(SEARCHABLE))}")
    parsed = parse_q(q, FIELDS)
    today = dt.date.today()
    text = checked_query(" ".join([terms, *parsed.words]) if parsed.words else terms, "terms")
    filters = Filters(include_terminated=parsed.wants_obsolete)

    rows = engine.prefix_matches(text, filters)
    if search_fields == {"code"}:
        rows = [row for row in rows if engine.index.records[row].code.startswith(text.upper().replace(" ", ""))]
    records = [engine.index.records[row] for row in rows]
    if not records and parsed.predicate is None:
        hits = engine.search(text, SearchOptions(limit=min(page_size, 50), offset=offset, filters=filters)).hits
        records = [engine.lookup(hit.code) for hit in hits if engine.lookup(hit.code) is not None]  # type: ignore[misc]
        offset = 0
    if parsed.predicate is not None:
        records = [r for r in records if parsed.predicate(r, today)]
    page = records[offset : offset + page_size]
    extra_out = {alias: [FIELDS[field](r, today) for r in page] for field, alias in extra} if extra else None
    return [
        len(records),
        [FIELDS[code_field](r, today) for r in page],
        extra_out,
        [[_text(FIELDS[field](r, today)) for field, _ in display] for r in page],
    ]


def _page_size(max_list: str | None, count: int | None) -> int:
    if count is not None:
        return count
    if max_list is None:
        return 7
    if not max_list.strip():
        return limits.CTSS_MAX_LIST
    # ASCII digits only: str.isdigit() also accepts '²' or '①', which int() then rejects (a 500).
    digits = max_list.strip()
    if not ASCII_DIGITS.fullmatch(digits) or not 1 <= int(digits) <= limits.CTSS_MAX_LIST:
        raise QueryError(f"maxList must be a whole number from 1 to {limits.CTSS_MAX_LIST}")
    return int(digits)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
