"""One JSON line per request on the ``codefinder.access`` logger: time, method, path, status, duration,
index version, key id. No query string or body unless ``log_query_text`` is on (descriptions can carry
patient details), and never a key (only the non-secret id of the key that matched)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "codefinder.access"
INDEX_HEADER = b"x-codefinder-index"


class AccessLog:
    """The outermost middleware, so the status it logs is the one the client got (401/413/429/504 too)."""

    def __init__(self, app: ASGIApp, log_query_text: bool = False, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.log_query_text = log_query_text
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        index_version: str | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, index_version
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers") or []:
                    if name == INDEX_HEADER:
                        index_version = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if self.logger.isEnabledFor(logging.INFO):
                self.logger.info(json.dumps(self.entry(scope, status, started, index_version), ensure_ascii=False))

    def entry(self, scope: Scope, status: int, started: float, index_version: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "index_version": index_version,
            "key_id": (scope.get("state") or {}).get("key_id"),
        }
        if self.log_query_text:
            entry["query"] = scope.get("query_string", b"").decode("latin-1")
        return entry


def configure_access_logging(level: int = logging.INFO) -> None:
    """Access lines go to stderr as bare JSON (no prefix), one per line; called by ``codefinder serve``."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(getattr(handler, "codefinder_access", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.codefinder_access = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
