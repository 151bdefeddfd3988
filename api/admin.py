"""Operations that change what is served: reload the published index (``POST /admin/reload`` or SIGHUP).

``/admin/*`` always needs an API key (see ``api.auth``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from codefinder.api.errors import ReloadRefused
from codefinder.api.schemas import ReloadOut, error_responses
from codefinder.api.service import Service

router = APIRouter(prefix="/admin", tags=["admin"])
log = logging.getLogger("codefinder.api")


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses=error_responses(401, 403, 409, 422),
)
def reload_index(
    request: Request,
    force: Annotated[bool, Query(description="reload even if `current` still names the loaded build")] = False,
) -> dict[str, Any]:
    """Load and verify the index `current` names, then swap it in; requests in flight finish on the old one."""
    service: Service = request.app.state.service
    result = service.reload(force=force)
    return {
        "status": result.status,
        "index_version": result.index_version,
        "previous_version": result.previous_version,
        "seconds": round(result.seconds, 3),
    }


def reload_in_background(service: Service) -> threading.Thread:
    """Run a reload off the signal handler (handlers must return at once)."""

    def run() -> None:
        try:
            service.reload()
        except ReloadRefused as error:
            log.error("%s", error)

    thread = threading.Thread(target=run, name="codefinder-reload", daemon=True)
    thread.start()
    return thread


@contextmanager
def reload_on_sighup(service: Service) -> Iterator[None]:
    """While the app runs, SIGHUP reloads the index. Only the main thread may set signal handlers; elsewhere
    (an app embedded in tests or another server's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        yield
        return
    handler: Callable[[int, Any], None] = lambda _signum, _frame: reload_in_background(service)  # noqa: E731
    previous = signal.signal(signal.SIGHUP, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
