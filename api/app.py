"""The FastAPI application: JSON endpoints, the Clinical Tables drop-in, FHIR terminology operations under
``/fhir``, and the web page at ``/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from codefinder.api import admin, changes, check_file, ctss, fhir, routes, suggest
from codefinder.api.access_log import AccessLog
from codefinder.api.auth import OPEN_PATHS, ApiKeys, KeyRing
from codefinder.api.body_limit import BodySizeLimit
from codefinder.api.context import AppContext
from codefinder.api.deadline import Deadline
from codefinder.api.errors import install_error_handlers
from codefinder.api.fhir_resources import FHIR_PREFIX
from codefinder.api.rate_limit import RateLimit, TokenBuckets
from codefinder.api.schemas import error_responses
from codefinder.api.service import PinIndex, Service

STATIC = Path(__file__).parent / "static"
# Swagger UI 5's own files, from the fastapi-offline package: /docs renders offline, with no CDN.
DOC_ASSETS = Path(str(resources.files("fastapi_offline") / "static"))


def package_version() -> str:
    try:
        return version("codefinder")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


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
        version=package_version(),
        lifespan=lifespan,
        docs_url=None,  # served below from local assets
        redoc_url=None,  # ReDoc's bundle fetches its logo from a CDN: /docs covers it
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(check_file.router)
    app.include_router(ctss.router)
    app.include_router(changes.router)
    app.include_router(suggest.router)
    app.include_router(admin.router)
    app.include_router(fhir.router)
    document_middleware_errors(app, keys.enabled, settings.rate_limit_per_minute > 0)
    app.mount("/static/docs", StaticFiles(directory=DOC_ASSETS), name="doc-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="codefinder API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )

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
    go into every operation's OpenAPI responses, so the schema says what a client can get (under /fhir, as
    the OperationOutcome the middlewares answer there)."""
    statuses = [504] + ([401] if keyed else []) + ([429] if limited else [])
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path not in OPEN_PATHS:
            fhir_route = route.path.startswith(FHIR_PREFIX + "/")
            documented = fhir.outcome_responses(*statuses) if fhir_route else error_responses(*statuses)
            for status, spec in documented.items():
                route.responses.setdefault(status, spec)
