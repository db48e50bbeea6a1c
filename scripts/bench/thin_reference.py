"""REFERENCE ONLY, not part of the gateway: the thinnest honest Python gateway, the benchmark's yardstick.

What it does per request, and nothing more:
- checks the bearer key (`Authorization: Bearer <REF_KEY>`, SHA-256 digests compared in constant time,
  as any gateway must; 401 otherwise);
- parses the request body with orjson to learn whether the client asked for a stream;
- forwards the body to `REF_UPSTREAM` + the request's path with one shared aiohttp session;
- non-streamed: parses the upstream's JSON and rewrites it into `{"response", "usage"}` with orjson,
  answered with a plain `Response` (no task group, no generator);
- streamed: passes the upstream's bytes through unchanged (`StreamingResponse`);
- writes one access line per request through `logging` at INFO (method, path, status, duration), as the
  gateway's rows do at `LOG_LEVEL=info`.
Served as the gateway is: uvicorn with uvloop and httptools, one process, Starlette routing, uvicorn's
own access log off (this module writes its own line, as the gateway does).
Run: `REF_UPSTREAM=http://127.0.0.1:PORT REF_KEY=k uvicorn thin_reference:app --loop uvloop --http httptools`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("REF_UPSTREAM", "http://127.0.0.1:9100")
KEY_DIGEST = hashlib.sha256(os.environ.get("REF_KEY", "bench-key").encode()).digest()
UNAUTHORIZED = orjson.dumps({"error": "unauthorized"})
UPSTREAM_HEADERS = {"content-type": "application/json"}

log = logging.getLogger("thin.access")
log.setLevel(logging.INFO)
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
log.addHandler(_handler)
log.propagate = False

session: aiohttp.ClientSession | None = None


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global session
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2048))
    yield
    await session.close()


def _authorized(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(hashlib.sha256(header[7:].encode()).digest(), KEY_DIGEST)


def _rewrite(upstream: dict[str, Any]) -> bytes:
    choice = upstream["choices"][0]
    return orjson.dumps({"response": choice["message"]["content"], "usage": upstream.get("usage")})


async def proxy(request: Request) -> Response:
    started = time.perf_counter()
    response = await _answer(request)
    log.info(
        "%s %s %d %.1fms",
        request.method,
        request.url.path,
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


async def _answer(request: Request) -> Response:
    if not _authorized(request):
        return Response(UNAUTHORIZED, 401, media_type="application/json")
    assert session is not None
    body = await request.body()
    stream = bool(orjson.loads(body).get("stream"))
    upstream = await session.post(UPSTREAM + request.url.path, data=body, headers=UPSTREAM_HEADERS)
    if not stream:
        async with upstream:
            data = await upstream.read()
        if upstream.status != 200:
            return Response(data, upstream.status, media_type="application/json")
        return Response(_rewrite(orjson.loads(data)), media_type="application/json")

    async def passthrough() -> AsyncIterator[bytes]:
        async with upstream:
            async for chunk in upstream.content.iter_any():
                yield chunk

    return StreamingResponse(passthrough(), upstream.status, media_type="text/event-stream")


app = Starlette(routes=[Route("/{path:path}", proxy, methods=["POST"])], lifespan=lifespan)
