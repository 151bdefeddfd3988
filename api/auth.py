"""Optional API keys: held only as sha256 digests, compared in constant time, never logged.

When keys are configured, every request needs one except the probes ``/healthz`` and ``/readyz``,
``/fhir/metadata`` (FHIR clients read the capabilities before they authenticate), the page and the API
documentation (``/``, ``/static/``, ``/docs``, ``/openapi.json``: they carry no data; the page asks for a key
when the API answers 401). ``/admin/*`` always needs a key: with none configured it is closed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from codefinder.api.early_response import reject
from codefinder.indexer.errors import CodefinderError

MIN_KEY_BYTES = 16
HASH_PREFIX = "sha256:"
# what load balancers and orchestrators probe, and FHIR clients read before they authenticate: no data, no key
OPEN_PATHS = ("/healthz", "/readyz", "/fhir/metadata")
# the page and the API documentation carry no data
PAGE_PATHS = ("/", "/favicon.ico", "/docs", "/openapi.json")
PAGE_PREFIXES = ("/static/",)
ADMIN_PREFIX = "/admin/"


class KeyConfigError(CodefinderError):
    """CODEFINDER_API_KEYS holds an entry that cannot be used; the service refuses to start."""


def digest(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class KeyRing:
    """The sha256 digests of the accepted keys (the keys themselves are not kept)."""

    digests: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, setting: str) -> KeyRing:
        """Entries separated by commas: a raw key of at least 16 bytes, or ``sha256:<64 hex digits>``."""
        digests: list[bytes] = []
        for position, entry in enumerate((part.strip() for part in setting.split(",")), start=1):
            if not entry:
                continue
            if entry.startswith(HASH_PREFIX):
                hex_digest = entry[len(HASH_PREFIX) :]
                try:
                    value = bytes.fromhex(hex_digest)
                except ValueError:
                    value = b""
                if len(value) != 32:
                    raise KeyConfigError(f"CODEFINDER_API_KEYS entry {position}: sha256: needs 64 hex digits")
                digests.append(value)
            elif len(entry.encode("utf-8")) < MIN_KEY_BYTES:
                raise KeyConfigError(
                    f"CODEFINDER_API_KEYS entry {position} is shorter than {MIN_KEY_BYTES} bytes; "
                    "use a long random key (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
                )
            else:
                digests.append(digest(entry))
        return cls(tuple(digests))

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def identify(self, presented: str | None) -> str | None:
        """A short, non-secret id of the matching key (first 8 hex digits of its digest), or None.
        Every stored digest is compared, so the time taken does not say which one matched."""
        if not presented or not self.digests:
            return None
        candidate = digest(presented)
        matched: bytes | None = None
        for stored in self.digests:
            if hmac.compare_digest(candidate, stored):
                matched = stored
        return matched.hex()[:8] if matched is not None else None


def presented_key(scope: Scope) -> str | None:
    """``X-API-Key: <key>`` or ``Authorization: Bearer <key>``."""
    headers = dict(scope.get("headers") or [])
    raw = headers.get(b"x-api-key")
    if raw is None:
        auth = headers.get(b"authorization", b"")
        scheme, _, token = auth.partition(b" ")
        raw = token.strip() if scheme.lower() == b"bearer" else None
    if not raw:
        return None
    return raw.decode("latin-1")


def needs_key(path: str, keys: KeyRing) -> bool:
    if path.startswith(ADMIN_PREFIX):
        return True
    if not keys.enabled or path in OPEN_PATHS or path in PAGE_PATHS:
        return False
    return not path.startswith(PAGE_PREFIXES)


class ApiKeys:
    """ASGI middleware: 401 without a valid key where one is needed; the key id goes to ``scope['state']``."""

    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        key_id = self.keys.identify(presented_key(scope))
        scope.setdefault("state", {})["key_id"] = key_id
        path = scope.get("path", "")
        if key_id is None and needs_key(path, self.keys):
            if self.keys.enabled:
                detail = "a valid API key is needed (X-API-Key or Authorization: Bearer)"
                await reject(scope, send, 401, detail, [(b"www-authenticate", b"Bearer")])
            else:
                await reject(scope, send, 403, "admin endpoints are closed: configure CODEFINDER_API_KEYS to use them")
            return
        await self.app(scope, receive, send)
