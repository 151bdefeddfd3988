"""The app factory each ``codefinder serve --workers N`` process runs (uvicorn imports it by name).

Everything a worker needs comes from the environment the serve command set: the settings
(``CODEFINDER_*``, read once here) and the logging choices."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from codefinder.api.access_log import configure_access_logging
from codefinder.api.app import create_app
from codefinder.api.context import AppContext
from codefinder.indexer.settings import Settings


def create() -> FastAPI:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_access_logging(logging.INFO if settings.access_log else logging.WARNING)
    return create_app(AppContext(settings=settings))
