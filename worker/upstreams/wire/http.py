"""What every HTTP adapter shares: per-target timeouts and the translation of transport failures.

Low-level exceptions are translated once, here, into the error tree with a message of our own (never
the exception's text, which can carry URLs with credentials).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamError, UpstreamTimeout

MAX_ERROR_BODY = 64 * 1024


def request_body(payload: Any) -> bytes:
    """The JSON body of an upstream request, as an exact-size copy: orjson hands out its 4 KiB working
    buffer as the bytes object, and this body lives as long as the answer (held by the adapter and by
    the HTTP client's request), so every open stream paid 4 KiB for a few hundred bytes (README §
    Performance, memory per open stream)."""
    return bytes(memoryview(orjson.dumps(payload)))


def request_timeout(target: Target) -> httpx.Timeout | None:
    """The target's own timeouts, or None for the shared client's (from the global settings)."""
    if not (target.connect_timeout or target.first_byte_timeout or target.idle_timeout):
        return None
    read = max(target.first_byte_timeout, target.idle_timeout) or None
    connect = target.connect_timeout or None
    return httpx.Timeout(connect=connect, read=read, write=30.0, pool=connect)


def transport_error(exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"The upstream timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return UpstreamError("Could not connect to the upstream")
    if isinstance(exc, httpx.ProxyError):
        return UpstreamError("The outbound proxy refused or failed the upstream connection")
    return UpstreamError(f"The upstream connection failed ({type(exc).__name__})")


async def read_bounded(response: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]
