"""FHIR R4 terminology operations under ``/fhir``: ``metadata``, ``CodeSystem/$lookup``,
``CodeSystem/$validate-code`` and ``ValueSet/$expand`` (GET with a query string, or POST with a
``Parameters`` body), answered as ``application/fhir+json``.

Thin: each route pins the engine and hands the parameters to ``api/fhir_operations.py``. Every error on
these paths, whatever raised it, is answered as an ``OperationOutcome`` by ``FhirRoute`` (the rest of the
API keeps ``{"detail": …}``); a path or method under ``/fhir`` that is not served gets one too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from codefinder.api import fhir_operations
from codefinder.api.errors import validation_message
from codefinder.api.fhir_operations import FHIR_STATUS_OF, OperationInput
from codefinder.api.fhir_resources import (
    CODE_SYSTEMS,
    FHIR_JSON,
    FHIR_PREFIX,
    capability_statement,
    outcome_for_status,
    terminology_capabilities,
)
from codefinder.api.schemas import ERROR_MEANINGS
from codefinder.api.service import pinned_engine
from codefinder.indexer.errors import CodefinderError, QueryError
from codefinder.search.engine import SearchEngine

log = logging.getLogger("codefinder.api")

Operation = Callable[[SearchEngine, OperationInput], dict[str, Any]]


class FhirResponse(Response):
    media_type = FHIR_JSON


def fhir_response(resource: dict[str, Any], status: int = 200) -> Response:
    return FhirResponse(orjson.dumps(resource), status_code=status)


def outcome_response(request: Request, error: Exception) -> Response:
    """Any error raised while answering a FHIR request, as an OperationOutcome with its HTTP status."""
    if isinstance(error, RequestValidationError):
        status, message = 400, validation_message(request, error)
    elif isinstance(error, StarletteHTTPException):
        status, message = error.status_code, str(error.detail)
    elif isinstance(error, CodefinderError):
        status, message = next(code for kind, code in FHIR_STATUS_OF if isinstance(error, kind)), str(error)
    else:
        log.exception("unhandled error")
        status, message = 500, "internal error; the request was not completed"
    return fhir_response(outcome_for_status(status, message), status)


class FhirRoute(APIRoute):
    """A route whose errors are OperationOutcomes: the error handlers for ``/fhir`` only."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()

        async def answer_or_outcome(request: Request) -> Response:
            try:
                return await answer(request)
            except Exception as error:
                return outcome_response(request, error)

        return answer_or_outcome


router = APIRouter(prefix=FHIR_PREFIX, tags=["fhir"], route_class=FhirRoute, default_response_class=FhirResponse)

OUTCOME_SCHEMA = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string", "description": "the FHIR issue type (invalid, not-found…)"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}
OUTCOME_MEANINGS = {
    **ERROR_MEANINGS,
    400: "a parameter is missing, repeated, malformed or out of bounds, or the body is not a Parameters resource",
    404: "the code system, value set, version or ($lookup) code is not served",
}


def outcome_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for errors answered as an OperationOutcome."""
    return {
        status: {"description": OUTCOME_MEANINGS[status], "content": {FHIR_JSON: {"schema": OUTCOME_SCHEMA}}}
        for status in statuses
    }


def answers(resource_type: str, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an operation answering ``resource_type``, or an OperationOutcome for ``statuses``."""
    resource = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": resource_type}},
    }
    return {200: {"content": {FHIR_JSON: {"schema": resource}}}, **outcome_responses(*statuses)}


def query_parameters(*described: tuple[str, str, str]) -> dict[str, Any]:
    """OpenAPI documentation of an operation's query parameters (name, type, meaning): the routes read the
    query string themselves, as FHIR parameters may repeat and unknown ones are ignored."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": meaning}
            for name, kind, meaning in described
        ]
    }


LOOKUP_PARAMETERS = query_parameters(
    ("system", "string", "code system URI (http or https)"),
    ("code", "string", "the code to look up"),
    ("version", "string", "the index version (optional; the only one served)"),
    ("date", "string", "the status as of this date (default today)"),
    ("property", "string", "a property (or 'designation') to return; repeatable; default all"),
)
VALIDATE_PARAMETERS = query_parameters(
    ("url", "string", "code system URI (``system`` is accepted too)"),
    ("code", "string", "the code to validate"),
    ("display", "string", "a description of what was done or supplied: verified as /verify does"),
    ("date", "string", "status and verification as of this date"),
)
EXPAND_PARAMETERS = query_parameters(
    ("url", "string", "an implicit value set, <system>?fhir_vs"),
    ("filter", "string", "text answered by the hybrid search, as /search answers q"),
    ("count", "integer", "codes per page (filtered: default 10, at most 50; else at most 1000)"),
    ("offset", "integer", "codes to skip (filtered: at most 1000; else at most 100000)"),
    ("activeOnly", "boolean", "leave out terminated codes (default true)"),
    ("includeDesignations", "boolean", "add the long and short descriptors to each code"),
    ("date", "string", "statuses as of this date"),
)
PARAMETERS_BODY = Annotated[dict[str, Any], Body(media_type=FHIR_JSON, description="a FHIR Parameters resource")]


@router.get(
    "/metadata",
    summary="CapabilityStatement, or TerminologyCapabilities with mode=terminology",
    responses={
        200: {"content": {FHIR_JSON: {"schema": {"type": "object", "required": ["resourceType"]}}}},
        **outcome_responses(400, 503),
    },
)
def metadata(request: Request, mode: str = "full") -> Response:
    engine = pinned_engine(request)
    built_at = engine.index.manifest.get("built_at", "")
    if mode == "terminology":
        loaded = engine.index.manifest.get("counts", {}).get("by_system", {})
        systems = [info for info in CODE_SYSTEMS if loaded.get(info.key)]
        return fhir_response(terminology_capabilities(request.app.version, built_at, engine.index.build_id, systems))
    if mode not in ("full", "normative"):
        raise QueryError("mode must be full, normative or terminology")
    return fhir_response(capability_statement(request.app.version, built_at))


def operation_routes(path: str, summary: str, operation: Operation, resource: str, described: dict[str, Any]) -> None:
    """The GET (query string) and POST (Parameters body) forms of one operation."""
    errors = (400, 404, 503)

    def by_query(request: Request) -> Response:
        return fhir_response(
            operation(pinned_engine(request), OperationInput.from_query(request.query_params.multi_items()))
        )

    def by_body(request: Request, body: PARAMETERS_BODY) -> Response:
        given = OperationInput.from_parameters(body, request.query_params.multi_items())
        return fhir_response(operation(pinned_engine(request), given))

    name = path.rsplit("$", 1)[-1].replace("-", "_")
    router.get(
        path, summary=summary, openapi_extra=described, responses=answers(resource, *errors), name=f"{name}_get"
    )(by_query)
    router.post(
        path,
        summary=f"{summary}; POST a Parameters body",
        responses=answers(resource, *errors, 413),
        name=f"{name}_post",
    )(by_body)


operation_routes(
    "/CodeSystem/$lookup",
    "A code's display, descriptors and properties",
    fhir_operations.lookup,
    "Parameters",
    LOOKUP_PARAMETERS,
)
operation_routes(
    "/CodeSystem/$validate-code",
    "Is the code in the system; with a display, does it fit what the display describes (as /verify)",
    fhir_operations.validate_code,
    "Parameters",
    VALIDATE_PARAMETERS,
)
operation_routes(
    "/ValueSet/$expand",
    "Codes of an implicit value set; a filter searches as you type (as /search)",
    fhir_operations.expand,
    "ValueSet",
    EXPAND_PARAMETERS,
)

SERVED_PATHS = {route.path for route in router.routes if isinstance(route, APIRoute)}


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], include_in_schema=False)
def not_served(request: Request, rest: str) -> Response:
    """Anything else under /fhir: 405 for a served path asked with another method, 404 otherwise."""
    if request.url.path in SERVED_PATHS:
        raise StarletteHTTPException(405, f"{request.method} is not supported on {request.url.path}")
    raise StarletteHTTPException(
        404, f"{request.method} {FHIR_PREFIX}/{rest} is not served here; see {FHIR_PREFIX}/metadata"
    )
