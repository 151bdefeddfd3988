"""The FastAPI application: JSON endpoints, the Clinical Tables drop-in, and the web page at ``/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api import ctss, routes
from api.body_limit import BodySizeLimit
from api.context import AppContext
from api.errors import install_error_handlers
from api.service import Service

STATIC = Path(__file__).parent / "static"


def create_app(context: AppContext) -> FastAPI:
    """One app per process; the model and index load once, at startup."""
    service = Service(context)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.load()
        yield

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
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    origins = context.settings.cors_origins
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(BodySizeLimit, max_bytes=context.settings.max_body_bytes)
    return app
