"""Connections orphaned in httpx's pool by a cancelled request (encode/httpcore#1093) are reclaimed.

The bug needs a cancellation inside a window of a few event-loop steps, so the test sweeps the moment
of cancellation across the first steps of a real request to a real local server, a fresh client each
time, until it has produced (and reclaimed) an orphan. Without `reclaim_orphans` that connection would
stay in the pool for good.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.servers import LiveServer
from worker.introspect import upstream_connections
from worker.upstreams.wire.pool_janitor import reclaim_orphans


async def cancel_after(client: httpx.AsyncClient, url: str, steps: int) -> None:
    task = asyncio.create_task(client.get(url))
    for _ in range(steps):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_orphans_are_reclaimed(fake_upstream: LiveServer) -> None:
    url = f"{fake_upstream.url}/_sim/stats"
    reclaimed = 0
    for _ in range(3):
        for steps in range(40):
            async with httpx.AsyncClient() as client:
                await cancel_after(client, url, steps)
                busy = upstream_connections(client).busy  # no request runs: anything busy is stuck
                found = await reclaim_orphans(client)
                assert upstream_connections(client).busy == busy - found
                if found:
                    assert busy - found == 0
                    assert (await client.get(url)).status_code == 200  # the pool still works
                reclaimed += found
            if reclaimed:
                break
        if reclaimed:
            break
    assert reclaimed >= 1


async def test_healthy_connections_are_left_alone(fake_upstream: LiveServer) -> None:
    url = f"{fake_upstream.url}/_sim/stats"
    async with httpx.AsyncClient() as client:
        await client.get(url)
        async with client.stream("GET", url) as response:
            assert await reclaim_orphans(client) == 0  # busy, but held by this running request
            await response.aread()
        assert await reclaim_orphans(client) == 0
        assert upstream_connections(client).open == 1  # the idle keep-alive connection stays
