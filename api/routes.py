"""The JSON endpoints. Thin: check sizes, call the engine, shape the answer."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from codefinder.api import limits
from codefinder.api.deadline import check_deadline
from codefinder.api.errors import NotReady, UnknownCode
from codefinder.api.limits import checked_description, checked_query
from codefinder.api.schemas import (
    SETTING_DESCRIPTION,
    AutocompleteOut,
    BatchSearchIn,
    BatchSearchOut,
    RecordOut,
    SearchOut,
    VerifyBatchIn,
    VerifyBatchOut,
    VerifyIn,
    VerifyItemIn,
    VerifyOut,
    error_responses,
)
from codefinder.api.service import Service, pinned_engine
from codefinder.indexer.errors import QueryError
from codefinder.search.cpt_answer import cpt_not_loaded
from codefinder.search.engine import CARE_SETTINGS, MODES, SearchEngine, SearchOptions
from codefinder.search.filters import Filters
from codefinder.search.verify import VerifyItem, record_dict, verify, verify_many

router = APIRouter()


def service_of(request: Request) -> Service:
    return request.app.state.service


def fast_json(content: Any) -> Response:
    """The hot endpoints return JSON directly: the engine's dicts already have the documented shape (tests
    and schemathesis check it), so skipping FastAPI's per-field response validation and encoding with
    orjson saves ~1-2 ms a request."""
    return Response(orjson.dumps(content), media_type="application/json")


def checked_mode(mode: str) -> str:
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}")
    return mode


def checked_setting(setting: str) -> str:
    if setting not in CARE_SETTINGS:
        raise QueryError(f"setting must be one of {', '.join(CARE_SETTINGS)}")
    return setting


Q = Annotated[str, Query(description=f"description, code or code prefix; at most {limits.MAX_QUERY_CHARS} characters")]
Limit = Annotated[int, Query(ge=1, le=limits.MAX_LIMIT)]
Offset = Annotated[int, Query(ge=0, le=limits.MAX_OFFSET)]
# The filters /search and /autocomplete share (checked by ``Filters.checked`` and the index's columns).
System = Annotated[str | None, Query(max_length=16, description="HCPCS or CPT")]
Level = Annotated[str | None, Query(max_length=32, description="hcpcs-2, hcpcs-modifier, cpt-1 …")]
Section = Annotated[str | None, Query(max_length=4, description="section letter, e.g. E")]
Kind = Annotated[str | None, Query(max_length=16, description="code or modifier")]


@router.get("/search", response_model=SearchOut, tags=["search"], responses=error_responses(422, 503))
def search(
    request: Request,
    q: Q,
    limit: Limit = 10,
    offset: Offset = 0,
    mode: Annotated[str, Query(description="hybrid, keyword or semantic")] = "hybrid",
    system: System = None,
    level: Level = None,
    section: Section = None,
    kind: Kind = None,
    include_terminated: bool = False,
    as_of: dt.date | None = None,
    setting: Annotated[str, Query(max_length=16, description=SETTING_DESCRIPTION)] = "any",
) -> dict[str, Any]:
    """Ranked codes for a description, with why each matched."""
    engine = pinned_engine(request)
    filters = Filters.checked(system, level, section, kind, include_terminated, as_of)
    options = SearchOptions(
        limit=limit, offset=offset, mode=checked_mode(mode), filters=filters, setting=checked_setting(setting)
    )
    return fast_json(engine.search(checked_query(q), options).to_dict())


@router.post(
    "/search/batch", response_model=BatchSearchOut, tags=["search"], responses=error_responses(400, 413, 422, 503)
)
def search_batch(request: Request, body: BatchSearchIn) -> dict[str, Any]:
    """Up to 100 queries in one call; one result list each, in order."""
    engine = pinned_engine(request)
    started = time.perf_counter()
    options = SearchOptions(limit=body.limit, mode=checked_mode(body.mode), setting=checked_setting(body.setting))
    queries = [checked_query(text, f"queries[{i}]") for i, text in enumerate(body.queries)]
    results = []
    for response in engine.search_many(queries, options):
        results.append(response.to_dict())
        check_deadline(request)
    return {"results": results, "index_version": engine.index.build_id, "took_ms": _ms(started)}


@router.get("/codes/{code}", response_model=RecordOut, tags=["codes"], responses=error_responses(404, 422, 503))
def code_detail(
    request: Request,
    code: Annotated[str, Path(max_length=limits.MAX_CODE_CHARS)],
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    """One record in full, with its status on ``as_of`` (today by default): active, terminated (with its
    date), not_yet_effective, or not_in_current_lists (with the lists that dropped it and its likely
    replacement). A CPT code when no CPT file is loaded: 404 saying so."""
    engine = pinned_engine(request)
    record = engine.lookup(code)
    if record is None:
        raise UnknownCode(cpt_not_loaded(code, engine.cpt_levels) or f"unknown code {code.strip().upper()!r}")
    return record_dict(record, as_of)


@router.get("/autocomplete", response_model=AutocompleteOut, tags=["search"], responses=error_responses(422, 503))
def autocomplete(
    request: Request,
    q: Q,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_AUTOCOMPLETE)] = 8,
    system: System = None,
    level: Level = None,
    section: Section = None,
    kind: Kind = None,
    include_terminated: bool = False,
) -> dict[str, Any]:
    """Code prefixes and word prefixes of descriptors and synonyms, for every keystroke (no model call); the
    filters are /search's, so the suggestions offered are codes the search could return."""
    engine = pinned_engine(request)
    started = time.perf_counter()
    filters = Filters.checked(system, level, section, kind, include_terminated)
    text = checked_query(q)
    today = dt.date.today()
    pairs = engine.autocomplete(text, limit, filters)
    return fast_json(
        {
            "query": text,
            "suggestions": [
                {
                    "code": r.code,
                    "label": r.description,
                    "short_description": r.short_description,
                    "kind": r.kind,
                    "section": r.section,
                    "level_label": r.level_label,
                    "status": r.status_on(today),
                    "match": match,
                }
                for r, match in pairs
            ],
            "took_ms": _ms(started),
            "index_version": engine.index.build_id,
        }
    )


@router.post("/verify", response_model=VerifyOut, tags=["verify"], responses=error_responses(400, 413, 422, 503))
def verify_one(request: Request, body: VerifyIn) -> dict[str, Any]:
    """Is the code consistent with the description? A verdict (consistent, suspect, unknown_code, terminated,
    needs_cpt) with one line of why per rule, the better candidates, and the line's flags: modifiers that
    contradict each other or the code, billed units that the stated dose does not give."""
    engine = pinned_engine(request)
    return verify_answer(engine, body)


@router.post(
    "/verify/batch", response_model=VerifyBatchOut, tags=["verify"], responses=error_responses(400, 413, 422, 503)
)
def verify_batch(request: Request, body: VerifyBatchIn) -> dict[str, Any]:
    """Up to 1,000 items, each as ``/verify`` takes it (code with modifiers, units); answered in order."""
    engine = pinned_engine(request)
    started = time.perf_counter()
    items = [verify_item(item, f"items[{i}].description") for i, item in enumerate(body.items)]
    setting = checked_setting(body.setting)
    verified = verify_many(engine, items, check=lambda: check_deadline(request), setting=setting)
    results = [result.to_dict() for result in verified]
    return fast_json({"results": results, "index_version": engine.index.build_id, "took_ms": _ms(started)})


def verify_item(item: VerifyItemIn, name: str) -> VerifyItem:
    """An item as verify takes it, its description within the verify limit."""
    modifiers = tuple(item.modifiers) if isinstance(item.modifiers, list) else item.modifiers
    return VerifyItem(checked_description(item.description, name), item.code, modifiers, item.units)


def verify_answer(engine: SearchEngine, body: VerifyIn) -> dict[str, Any]:
    """What POST /verify answers for ``body`` (also the MCP ``verify_code`` tool's answer)."""
    item = verify_item(body, "description")
    setting = checked_setting(body.setting)
    verification = verify(
        engine, item.description, item.code, setting=setting, modifiers=item.modifiers, units=item.units
    )
    return verification.to_dict()


@router.get("/healthz", tags=["operations"])
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses=error_responses(503))
def readyz(request: Request) -> dict[str, str | None]:
    """200 once an index is loaded and verified, 503 before: what a load balancer asks, so it needs no API
    key. ``reload_error`` says why the last reload was refused (the index named here kept serving). Server
    paths are left out of both answers."""
    service = service_of(request)
    engine = getattr(request.state, "engine", None) or service.engine
    if engine is None:
        raise NotReady(f"no index is loaded: {_without_paths(service.load_error or '', service)}")
    refused = service.last_reload_error
    return {
        "status": "ready",
        "index_version": engine.index.build_id,
        "reload_error": _without_paths(refused, service) if refused else None,
    }


def _without_paths(message: str, service: Service) -> str:
    """An index error as an unauthenticated caller may read it: the index folder named ``<index>``."""
    index = service.context.settings.index
    for path in sorted({str(index.resolve()), str(index)}, key=len, reverse=True):
        message = message.replace(path, "<index>")
    return message


@router.get("/version", tags=["operations"], responses=error_responses(503))
def version(request: Request) -> dict[str, Any]:
    """The loaded index's manifest: sources, counts, model, and each index file's sha256 (names only, no
    server paths), with the package version serving it."""
    engine = pinned_engine(request)
    manifest = engine.index.manifest
    files = {name: facts["sha256"] for name, facts in manifest.get("files", {}).items()}
    return {
        **{key: value for key, value in manifest.items() if key != "files"},
        "files": files,
        "codefinder_version": request.app.version,
    }


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
