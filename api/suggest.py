"""``POST /suggest``: the billable items in documentation text. Thin: check sizes, call the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from codefinder.api.deadline import check_deadline
from codefinder.api.limits import checked_document
from codefinder.api.routes import checked_setting, fast_json
from codefinder.api.schemas import SuggestIn, SuggestOut, error_responses
from codefinder.api.service import pinned_engine
from codefinder.search.engine import SearchEngine
from codefinder.search.suggest.pipeline import suggest

router = APIRouter()


@router.post("/suggest", response_model=SuggestOut, tags=["suggest"], responses=error_responses(400, 413, 422, 503))
def suggest_items(request: Request, body: SuggestIn) -> Response | dict[str, Any]:
    """Each billable HCPCS Level II item a note, order or MAR entry names — a drug with its dose and route, a
    supply, equipment, an orthosis or prosthesis, a service — with where it is (start/end), its ranked
    codes with confidence, billing units where a dose or count is stated, the modifiers a stated side
    supports, and whether it was documented as not given. Text naming nothing billable gives no items. A
    CPT service (an office visit, an MRI) is flagged ``needs_cpt``."""
    return fast_json(suggest_answer(pinned_engine(request), body, check=lambda: check_deadline(request)))


def suggest_answer(engine: SearchEngine, body: SuggestIn, check: Callable[[], None] | None = None) -> dict[str, Any]:
    """What POST /suggest answers for ``body`` (also the MCP ``suggest_codes`` tool's answer)."""
    text = checked_document(body.text)
    response = suggest(
        engine,
        text,
        setting=checked_setting(body.setting),
        limit_per_item=body.limit_per_item,
        check=check,
        mode=body.mode,
    )
    return response.to_dict()
