"""``GET /changes``: what changed between two HCPCS releases the index was built from; ``GET /changes/releases``
lists them. Thin: the comparison is ``indexer.changes``."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from codefinder.api.routes import fast_json
from codefinder.api.schemas import ChangesOut, ReleasesOut, error_responses
from codefinder.api.service import pinned_engine
from codefinder.indexer.changes import CHANGE_KINDS, CSV_COLUMNS, changes_payload, find_release

router = APIRouter()

ReleaseName = Annotated[str, Query(min_length=1, max_length=200, description="release file name, part of it, or date")]


@router.get("/changes/releases", response_model=ReleasesOut, tags=["changes"], responses=error_responses(503))
def releases(request: Request) -> Any:
    """The HCPCS releases this index was built from (the current list and the older releases read for dates)."""
    engine = pinned_engine(request)
    return {"releases": [r.summary() for r in engine.index.releases], "index_version": engine.index.build_id}


@router.get("/changes", response_model=ChangesOut, tags=["changes"], responses=error_responses(404, 422, 503))
def changes(
    request: Request,
    old: Annotated[str, Query(alias="from", min_length=1, max_length=200, description="the older release")],
    new: Annotated[str, Query(alias="to", min_length=1, max_length=200, description="the newer release")],
    change: Annotated[list[Literal["added", "terminated", "descriptor_changed"]] | None, Query()] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")] = "json",
) -> Any:
    """Codes added, terminated and descriptor-changed from release ``from`` to release ``to`` (names from
    ``/changes/releases``: a file name, part of it such as ``2019``, or a date such as ``2020-10``)."""
    engine = pinned_engine(request)
    built = engine.index.releases
    payload = changes_payload(find_release(built, old), find_release(built, new), tuple(change or CHANGE_KINDS))
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(payload["changes"])
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")
    return fast_json({**payload, "index_version": engine.index.build_id})
