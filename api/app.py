"""The FastAPI application: JSON endpoints, the Clinical Tables drop-in, and the web page at ``/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api import admin, ctss, routes
from api.access_log import AccessLog
from api.auth import OPEN_PATHS, ApiKeys, KeyRing
from api.body_limit import BodySizeLimit
from api.context import AppContext
from api.deadline import Deadline
from api.errors import install_error_handlers
from api.rate_limit import RateLimit, TokenBuckets
from api.schemas import error_responses
from api.service import PinIndex, Service

STATIC = Path(__file__).parent / "static"


def create_app(context: AppContext) -> FastAPI:
    """One app per process; the model and index load once, at startup (and again on reload).
    Raises KeyConfigError before anything starts if an API key is unusable."""
    settings = context.settings
    keys = KeyRing.parse(settings.api_keys.get_secret_value())
    service = Service(context)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.load()
        try:
            with admin.reload_on_sighup(service):
                yield
        finally:
            service.close()

    app = FastAPI(
        title="codefinder",
        summary="HCPCS Level II / CPT codes from plain-language descriptions",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(ctss.router)
    app.include_router(admin.router)
    document_middleware_errors(app, keys.enabled, settings.rate_limit_per_minute > 0)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    # Middlewares, innermost first (each add_middleware wraps the ones before it): the engine is pinned
    # inside the deadline; rate limiting sees the key id auth found; the access log sees every final status.
    app.add_middleware(PinIndex, service=service)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        Deadline,
        seconds=settings.request_deadline_seconds,
        batch_seconds=settings.batch_deadline_seconds,
        admin_seconds=settings.reload_deadline_seconds,
    )
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets)
    app.add_middleware(ApiKeys, keys=keys)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Codefinder-Index", "Retry-After"],
        )
    app.add_middleware(AccessLog, log_query_text=settings.log_query_text)
    return app


def document_middleware_errors(app: FastAPI, keyed: bool, limited: bool) -> None:
    """The statuses the middlewares answer (401 without a key, 429 over the limit, 504 past the deadline)
    go into every operation's OpenAPI responses, so the schema says what a client can get."""
    statuses = [504] + ([401] if keyed else []) + ([429] if limited else [])
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path not in OPEN_PATHS:
            for status, spec in error_responses(*statuses).items():
                route.responses.setdefault(status, spec)
