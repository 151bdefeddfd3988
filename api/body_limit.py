"""Reject request bodies over a byte limit, counted on the bytes actually received.

The body (at most the limit) is read before the app runs and replayed to it, so a client that
sends no or a false Content-Length still gets a 413 and no handler ever sees the excess.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codefinder.api.early_response import reject


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await reject(scope, send, 413, f"request body is larger than {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            received += len(body)
            if received > self.max_bytes:
                await reject(scope, send, 413, f"request body is larger than {self.max_bytes} bytes")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
