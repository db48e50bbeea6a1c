"""REFERENCE ONLY, not part of the gateway: the thinnest Python proxy we could write (Starlette + aiohttp).

It forwards the request path and body to `REF_UPSTREAM` with one shared aiohttp session and streams the
answer back unchanged: no auth, no validation, no translation. The benchmark uses it as the yardstick for
"what does any Python proxy cost", against which the gateway's own features must cost nothing.
Run: `REF_UPSTREAM=http://127.0.0.1:PORT uvicorn scripts.bench.reference:app --loop uvloop --http httptools`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ.get("REF_UPSTREAM", "http://127.0.0.1:9100")
session: aiohttp.ClientSession | None = None


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global session
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2048))
    yield
    await session.close()


async def proxy(request: Request) -> StreamingResponse:
    assert session is not None
    upstream = await session.post(
        UPSTREAM + request.url.path, data=await request.body(), headers={"content-type": "application/json"}
    )

    async def body() -> AsyncIterator[bytes]:
        async with upstream:
            async for chunk in upstream.content.iter_any():
                yield chunk

    media = upstream.headers.get("content-type", "application/json")
    return StreamingResponse(body(), status_code=upstream.status, media_type=media)


app = Starlette(routes=[Route("/{path:path}", proxy, methods=["POST"])], lifespan=lifespan)
