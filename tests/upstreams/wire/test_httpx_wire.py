"""What only the httpx wire does: any httpx transport under it, and proxies that fail."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.proxies import Proxy
from tests.servers import LiveServer
from worker.core.errors import UpstreamError
from worker.upstreams.wire.httpx_wire import HttpxWire


async def test_any_httpx_transport_carries_the_exchange() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, headers={"x-a": "b"}, content=b"body")

    wire = HttpxWire(httpx.MockTransport(handler))
    async with wire.post("http://up.test/v1/x", b'{"a":1}', {"authorization": "Bearer k"}) as answer:
        assert (answer.status_code, answer.headers["X-A"], await answer.aread()) == (201, "b", b"body")
    assert seen[0].method == "POST" and seen[0].content == b'{"a":1}'
    assert seen[0].headers["authorization"] == "Bearer k"
    assert wire.connection_counts() == (0, 0)  # no pool under a mock transport
    assert await wire.reclaim() == 0


async def test_mid_body_failures_are_translated() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield b"data: {}\n\n"
            raise httpx.RemoteProtocolError("peer closed")

    wire = HttpxWire(httpx.MockTransport(lambda request: httpx.Response(200, stream=Broken())))
    with pytest.raises(UpstreamError, match=r"connection failed \(RemoteProtocolError\)"):
        async with wire.post("http://up.test/", b"", {}) as answer:
            async for _ in answer.aiter_bytes():
                pass


async def test_a_dead_proxy_is_a_connect_error(fake_upstream: LiveServer) -> None:
    wire = HttpxWire.pooled(4, 4, proxy=Proxy("http").url)  # never started: nothing listens there
    try:
        with pytest.raises(UpstreamError, match="Could not connect"):
            async with wire.post(f"{fake_upstream.url}/v1/chat/completions", b"{}", {}):
                pass
    finally:
        await wire.aclose()
    assert fake_upstream.app.stats.received == 0


async def test_a_proxy_refusing_the_tunnel_is_a_proxy_error() -> None:
    """An HTTPS target goes through `CONNECT`; a proxy answering it with an error status is the proxy's
    failure, and said to be."""
    asked: list[bytes] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wire = HttpxWire.pooled(4, 4, proxy=f"http://user:hunter2@127.0.0.1:{port}")
    try:
        with pytest.raises(UpstreamError) as info:
            async with wire.post("https://upstream.test/v1/chat/completions", b"{}", {}):
                pass
    finally:
        await wire.aclose()
        server.close()
    assert info.value.message == "The outbound proxy refused or failed the upstream connection"
    assert asked == [b"CONNECT upstream.test:443 HTTP/1.1"]
