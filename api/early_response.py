"""Small helpers shared by the ASGI middlewares."""

from __future__ import annotations

import json

from starlette.types import Send


async def reject(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with a one-line JSON error before the app runs (the same ``{"detail": …}`` shape as the app's)."""
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})
