"""Cross-origin access for browser pages on other origins (`CORS_ORIGINS`), as pure ASGI middleware.

With no origins configured (the default) the middleware is not installed at all: browsers then keep
other sites' pages from reading the API's answers, and the console, served from the gateway's own
origin, needs no CORS. Keys travel in the `Authorization` header, never in cookies, so credentials
are never allowed: a page on an allowed origin can call the API only with a key its user typed in.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is answered here,
204 with the methods and the headers the browser asked about; from any other origin it is refused (403)
without CORS headers, so the browser blocks the real request. Other requests pass through, and answers
to an allowed origin gain `Access-Control-Allow-Origin` and the headers the page may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from worker.web.asgi import Message, Receive, Scope, Send

ALLOWED_METHODS = b"GET, HEAD, POST, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = b"x-request-id, retry-after, x-ignored-fields"
MAX_AGE = b"600"


def _origin(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"origin":
            return bytes(value)
    return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class CorsMiddleware:
    def __init__(self, app: Any, origins: Iterable[str]) -> None:
        self.app = app
        listed = {o.strip().rstrip("/") for o in origins if o.strip()}
        self.any_origin = "*" in listed
        self.origins = frozenset(o.encode() for o in listed if o != "*")

    def allowed(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _origin(scope) if scope["type"] == "http" else None
        if origin is None:  # not a cross-origin browser request: nothing to add
            await self.app(scope, receive, send)
            return
        requested = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and requested is not None:
            await self.preflight(origin, scope, send)
            return
        if not self.allowed(origin):
            await self.app(scope, receive, send)
            return
        added = [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            (b"vary", b"Origin"),
        ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def preflight(self, origin: bytes, scope: Scope, send: Send) -> None:
        if not self.allowed(origin):
            body = orjson.dumps(
                {"error": "Forbidden", "detail": "This origin may not call the API (CORS_ORIGINS)"}
            )
            headers = [(b"content-type", b"application/json"), (b"vary", b"Origin")]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        asked = _header(scope, b"access-control-request-headers")
        if asked:  # header names only (a browser sends a comma-separated list): echoed as asked
            headers.append((b"access-control-allow-headers", asked))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
