"""Connections orphaned in httpx's pool by a cancelled request (encode/httpcore#1093) are reclaimed.

httpx's pool runs only under the proxy wire (`HttpxWire.pooled(..., proxy=...)`), so that is what is
tested: a real proxy-configured wire, real local proxies (HTTP and SOCKS5) and a real upstream. The bug
needs a cancellation inside a window of a few event-loop steps, so the test sweeps the moment of
cancellation across the first steps of a request until the janitor has found (and closed) an orphan;
after every cancellation the pool must hold nothing busy, and keep working. Without the janitor those
connections stay busy for good (through SOCKS, at most of the early steps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.proxies import Proxy
from tests.servers import LiveServer
from worker.upstreams.wire import httpx_wire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.pool_janitor import reclaim_orphans
from worker.upstreams.wire.seam import Timeouts

TIMEOUTS = Timeouts(connect=5.0, read=5.0, pool=5.0)


@pytest.fixture(params=["http", "socks5"])
def proxy(request: pytest.FixtureRequest) -> Iterator[Proxy]:
    started = Proxy(request.param)
    started.start()
    yield started
    started.stop()


async def cancel_after(wire: HttpxWire, url: str, steps: int) -> None:
    async def call() -> None:
        async with wire.post(url, b"{}", {}) as answer:
            await answer.aread()

    task = asyncio.create_task(call())
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_cancelled_requests_leave_the_proxy_pool_clean(
    proxy: Proxy, fake_upstream: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: list[int] = []

    async def counting(pool: Any) -> int:
        count = await reclaim_orphans(pool)
        found.append(count)
        return count

    monkeypatch.setattr(httpx_wire, "reclaim_orphans", counting)
    url = f"{fake_upstream.url}/_sim/stats"
    for steps in range(80):
        wire = HttpxWire.pooled(8, 8, TIMEOUTS, proxy.url)
        try:
            await cancel_after(wire, url, steps)
            assert wire.connection_counts()[1] == 0, steps  # no request runs: nothing may be busy
            if sum(found):
                async with wire.post(url, b"{}", {}) as answer:  # and the pool still works
                    assert answer.status_code == 200
                    await answer.aread()
                break
        finally:
            await wire.aclose()
    assert sum(found) >= 1  # the sweep hit the window: an orphan was made, and reclaimed


async def test_healthy_connections_are_left_alone(proxy: Proxy, fake_upstream: LiveServer) -> None:
    url = f"{fake_upstream.url}/_sim/stats"
    wire = HttpxWire.pooled(8, 8, TIMEOUTS, proxy.url)
    try:
        async with wire.post(url, b"{}", {}) as answer:
            await answer.aread()
        async with wire.post(url, b"{}", {}) as answer:
            assert await wire.reclaim() == 0  # busy, but held by this running request
            await answer.aread()
        assert await wire.reclaim() == 0
        assert wire.connection_counts() == (1, 0)  # the idle keep-alive connection stays
    finally:
        await wire.aclose()
