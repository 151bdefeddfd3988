"""Domain errors mapped to HTTP status codes at the edge; bodies are ``{"detail": "one line"}``."""

from __future__ import annotations

import logging

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


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body", "path"))
        parts.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CodefinderError)
    async def domain_error(_request: Request, error: CodefinderError) -> JSONResponse:
        status = next(code for kind, code in STATUS_OF if isinstance(error, kind))
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(error)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"detail": "internal error; the request was not completed"}, status_code=500)
