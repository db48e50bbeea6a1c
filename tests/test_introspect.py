"""The introspection hook reads the real pool of a real wire."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from tests.conftest import AUTH
from tests.servers import LiveServer
from worker.introspect import PoolCount, snapshot, upstream_connections
from worker.upstreams.wire.aiohttp_wire import AiohttpWire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.seam import Wire

ASK = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
# A stream that stalls after its first event: its connection stays busy for as long as it is open (a
# short answer may arrive whole with its headers, and aiohttp pools the connection at once).
STALL = orjson.dumps(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "[sim:stall] hi"}]}
)


@pytest.mark.parametrize(
    "make", [lambda: AiohttpWire(4), lambda: HttpxWire.pooled(4, 4)], ids=["aiohttp", "httpx"]
)
async def test_counts_busy_then_idle_connections(fake_upstream: LiveServer, make: Callable[[], Wire]) -> None:
    wire = make()
    try:
        url = f"{fake_upstream.url}/v1/chat/completions"
        assert upstream_connections(wire).open == 0
        async with wire.post(url, STALL, {}) as answer:
            assert upstream_connections(wire) == PoolCount(open=1, busy=1)
        assert upstream_connections(wire).open == 0  # left mid-body: dropped
        async with wire.post(url, ASK, {}) as answer:
            await answer.aread()
        assert upstream_connections(wire) == PoolCount(open=1, busy=0)
    finally:
        await wire.aclose()


async def test_a_finished_stream_hands_its_upstream_connection_back(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    """Read to its end after `[DONE]`, the upstream connection is kept alive for the next request."""
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")
    state = gateway.app.app.state.app_state
    body = {"messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 3}
    async with httpx.AsyncClient(headers=AUTH) as client:
        for _ in range(3):
            r = await client.post(f"{gateway.url}/qwq-32b", json=body)
            assert r.text.endswith("data: [DONE]\n\n")
            count = gateway.call(snapshot(state)).upstream
            assert (count.open, count.busy) == (1, 0)
