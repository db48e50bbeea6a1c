"""The introspection hook reads the real pool of a real client."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import AUTH
from tests.servers import LiveServer
from worker.introspect import snapshot, upstream_connections


async def test_counts_busy_then_idle_connections(fake_upstream: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        assert upstream_connections(client).open == 0
        async with client.stream("GET", f"{fake_upstream.url}/_sim/stats") as response:
            assert upstream_connections(client).busy == 1
            await response.aread()
        after = upstream_connections(client)
        assert (after.open, after.busy) == (1, 0)


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
