from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from tests.servers import LiveServer, free_port
from worker.upstreams.wire.transport import AiohttpTransport

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def test_a_request_round_trips_through_the_aiohttp_pool(fake_upstream: LiveServer) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport(8)) as client:
        for _ in range(3):  # the pool is reused across requests
            r = await client.post(
                f"{fake_upstream.url}/v1/chat/completions",
                content=orjson.dumps(CHAT),
                headers={"authorization": "Bearer up-key", "content-type": "application/json"},
            )
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
    assert fake_upstream.app.stats.headers[-1]["authorization"] == "Bearer up-key"
    assert fake_upstream.app.stats.bodies[-1]["messages"] == CHAT["messages"]


async def test_errors_arrive_as_httpx_errors() -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport(8)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{free_port()}/v1/chat/completions", content=b"{}")


async def test_a_silent_upstream_is_a_read_timeout(fake_upstream: LiveServer) -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": "[sim:slow-start=5] hi"}]}
    timeout = httpx.Timeout(5.0, read=0.3)
    async with httpx.AsyncClient(transport=AiohttpTransport(8), timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{fake_upstream.url}/v1/chat/completions", content=orjson.dumps(body))


async def test_a_stream_arrives_in_pieces_and_closing_early_stops_the_upstream(
    fake_upstream: LiveServer,
) -> None:
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "[sim:stall] hi"}]}
    async with (
        httpx.AsyncClient(transport=AiohttpTransport(8)) as client,
        client.stream("POST", f"{fake_upstream.url}/v1/chat/completions", content=orjson.dumps(body)) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        async for chunk in r.aiter_bytes():
            assert b"data:" in chunk  # the first event, before the stream is over
            break
    for _ in range(150):  # a liveness bound (3 s), not a speed assertion
        if fake_upstream.app.stats.cancelled:
            break
        await asyncio.sleep(0.02)
    assert fake_upstream.app.stats.cancelled == 1 and fake_upstream.app.stats.open == 0


async def test_stream_post_reads_status_headers_and_body(fake_upstream: LiveServer) -> None:
    transport = AiohttpTransport(8, timeout=httpx.Timeout(5.0))
    try:
        url = f"{fake_upstream.url}/v1/chat/completions"
        async with transport.stream_post(url, orjson.dumps(CHAT), {"authorization": "Bearer k"}) as r:
            assert r.status_code == 200
            assert r.headers.get("Content-Type", "").startswith("application/json")  # any case
            assert orjson.loads(await r.aread())["choices"][0]["message"]["content"]
        bad = {**CHAT, "messages": [{"role": "user", "content": "[sim:error-503] hi"}]}
        async with transport.stream_post(url, orjson.dumps(bad), {}) as r:
            assert r.status_code == 503 and await r.aread()
    finally:
        await transport.aclose()


async def test_stream_post_leaving_early_stops_the_upstream(fake_upstream: LiveServer) -> None:
    transport = AiohttpTransport(8, timeout=httpx.Timeout(5.0))
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "[sim:stall] hi"}]}
    try:
        url = f"{fake_upstream.url}/v1/chat/completions"
        async with transport.stream_post(url, orjson.dumps(body), {}) as r:
            async for chunk in r.aiter_bytes():
                assert b"data:" in chunk
                break
        for _ in range(150):  # a liveness bound (3 s), not a speed assertion
            if fake_upstream.app.stats.cancelled:
                break
            await asyncio.sleep(0.02)
        assert fake_upstream.app.stats.cancelled == 1 and fake_upstream.app.stats.open == 0
    finally:
        await transport.aclose()
