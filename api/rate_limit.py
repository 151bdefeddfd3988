"""Optional per-client rate limiting: a token bucket per API key (or client address without keys).

Over the limit a request gets 429 with ``Retry-After`` (whole seconds until a token is free). The table
of buckets is bounded: the least recently seen clients are forgotten first, so a flood of addresses
cannot grow memory without end.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from codefinder.api.early_response import reject

EXEMPT_PATHS = ("/healthz", "/readyz")
MAX_CLIENTS = 10_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``per_minute`` tokens a minute per client, at most ``burst`` saved up."""

    def __init__(
        self,
        per_minute: int,
        burst: int = 0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self.clock = clock
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when the request may go ahead (a token is spent), else the seconds until one is free."""
        now = self.clock()
        bucket = self.buckets.pop(client, None) or Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self.buckets[client] = bucket
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def client_of(scope: Scope) -> str:
    """The key id the auth middleware found, else the peer address."""
    key_id = (scope.get("state") or {}).get("key_id")
    if key_id:
        return f"key:{key_id}"
    peer = scope.get("client")
    return f"ip:{peer[0]}" if peer else "ip:unknown"


class RateLimit:
    """ASGI middleware; runs inside the auth middleware so a key's requests share one bucket."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_of(scope))
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait))).encode()
            await reject(scope, send, 429, "too many requests; retry later", [(b"retry-after", retry_after)])
            return
        await self.app(scope, receive, send)
