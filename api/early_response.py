"""Small helpers shared by the ASGI middlewares."""

from __future__ import annotations

import json

from starlette.types import Scope, Send

from codefinder.api.fhir_resources import FHIR_JSON, FHIR_PREFIX, outcome_for_status


async def reject(
    scope: Scope, send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with a one-line error before the app runs: the app's ``{"detail": …}`` shape, or under ``/fhir``
    the OperationOutcome a FHIR client expects there."""
    path = scope.get("path", "")
    if path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/"):
        body, media_type = json.dumps(outcome_for_status(status, detail)).encode(), FHIR_JSON
    else:
        body, media_type = json.dumps({"detail": detail}).encode(), "application/json"
    head = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})
