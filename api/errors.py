"""Domain errors mapped to HTTP status codes at the edge; bodies are ``{"detail": "one line"}``."""

from __future__ import annotations

import logging
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from codefinder.indexer.changes import UnknownRelease
from codefinder.indexer.errors import CodefinderError, QueryError, UnusableIndexError

log = logging.getLogger("codefinder.api")


class UnknownCode(CodefinderError):
    """A code the loaded index does not hold."""


class NotReady(CodefinderError):
    """No verified index is loaded."""


class PayloadTooLarge(CodefinderError):
    """A request body over the configured limit."""


class DeadlineExceeded(CodefinderError):
    """The request ran past its deadline."""


class ReloadRefused(CodefinderError):
    """A new index failed its checks; the one already loaded keeps serving."""


STATUS_OF: list[tuple[type[Exception], int]] = [
    (UnknownCode, 404),
    (UnknownRelease, 404),
    (PayloadTooLarge, 413),
    (QueryError, 422),
    (ReloadRefused, 409),
    (NotReady, 503),
    (DeadlineExceeded, 504),
    (UnusableIndexError, 503),
    (CodefinderError, 400),
]


JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "true|false",
    list: "[…]",
    dict: "{…}",
}


def _json_type(annotation: Any) -> str:
    """``str`` -> string, ``float | None`` -> number, ``str | list[str] | None`` -> string|[…]."""
    options = [option for option in (get_args(annotation) or (annotation,)) if option is not type(None)]
    if get_origin(annotation) not in (Union, UnionType):
        options = [annotation]
    names = [JSON_TYPES.get(get_origin(option) or option, "value") for option in options]
    return "|".join(dict.fromkeys(names))


def body_shape(request: Request) -> str | None:
    """The JSON object the route expects, in one line: ``{"description": string, "code": string, "setting"?:
    string}`` (``?`` marks optional fields), or None for a route without a body."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None)
    if not fields:
        return None
    parts = [
        f'"{name}"{"" if info.is_required() else "?"}: {_json_type(info.annotation)}' for name, info in fields.items()
    ]
    return "{" + ", ".join(parts) + "}"


def validation_message(request: Request, error: RequestValidationError) -> str:
    """One line a client can act on: what was wrong, where, and for a body the shape expected."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    shape = body_shape(request)
    expected = f"; expected a JSON object like {shape}" if shape else ""
    parts = []
    unknown: list[str] = []
    for item in error.errors():
        kind = item.get("type", "")
        location = [str(part) for part in item.get("loc", ())]
        if kind == "json_invalid":
            position = location[1] if len(location) > 1 else "?"
            reason = (item.get("ctx") or {}).get("error", "malformed JSON")
            return f"the body is not valid JSON at character {position} ({reason}){expected}"
        if kind == "extra_forbidden":
            unknown.append(".".join(location[1:]))
            continue
        if location[:1] == ["body"] and len(location) == 1 and kind in ("model_attributes_type", "dict_type"):
            if content_type != "application/json":
                got = f" (got {content_type})" if content_type else ""
                return f"send JSON with content-type: application/json{got}{expected}"
            return f"the body must be a JSON object{expected}"
        if location[:1] == ["body"] and len(location) == 1 and kind == "missing":
            return f"the request needs a JSON body{expected}"
        where = ".".join(part for part in location if part not in ("query", "body", "path"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    if unknown:
        fields = ", ".join(repr(name) for name in unknown)
        parts.insert(0, f"unknown field{'s' if len(unknown) > 1 else ''} {fields}{expected}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CodefinderError)
    async def domain_error(_request: Request, error: CodefinderError) -> JSONResponse:
        status = next(code for kind, code in STATUS_OF if isinstance(error, kind))
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(request, error)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = str(error.detail)
        if error.status_code == 400 and detail == "There was an error parsing the body":
            shape = body_shape(request)
            detail = "the body is not valid UTF-8 JSON: send JSON encoded as UTF-8 with content-type: application/json"
            detail += f"; expected a JSON object like {shape}" if shape else ""
        return JSONResponse({"detail": detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"detail": "internal error; the request was not completed"}, status_code=500)
