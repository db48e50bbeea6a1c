"""Cheap, read-only counters of what a process holds open, for tests, benchmarks and operators.

`snapshot(state)` must run on the server's own event loop (e.g. `LiveServer.call(...)` in tests). It
reports the asyncio tasks alive on that loop and the connections in the shared upstream pool, so a
test can prove that abandoned streams leave nothing behind. The default upstream pool is aiohttp's
(`AiohttpTransport.connection_counts`); with an outbound proxy it is httpx's own. httpx has no public
accessor for its pool:
`upstream_connections` is the one place that reaches into it (httpx 0.28: `client._transport._pool`,
an httpcore pool whose `connections` property is public), and it fails loudly if that ever moves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from worker.state import AppState
from worker.upstreams.wire.transport import AiohttpTransport


@dataclass(frozen=True, slots=True)
class PoolCount:
    open: int  # connections not closed: idle (kept alive) or carrying a request
    busy: int  # of those, carrying a request right now


def upstream_connections(client: httpx.AsyncClient) -> PoolCount:
    transport = getattr(client, "_transport", None)
    if isinstance(transport, AiohttpTransport):
        opened, busy = transport.connection_counts()
        return PoolCount(open=opened, busy=busy)
    pool = getattr(transport, "_pool", None)
    connections = getattr(pool, "connections", None)
    if connections is None:
        raise RuntimeError("this httpx version does not expose its connection pool as expected")
    alive = [c for c in connections if not c.is_closed()]
    return PoolCount(open=len(alive), busy=sum(1 for c in alive if not c.is_idle()))


@dataclass(frozen=True, slots=True)
class Snapshot:
    tasks: int
    upstream: PoolCount


async def snapshot(state: AppState) -> Snapshot:
    """Tasks on the running loop (this coroutine's own task included) and the upstream pool's state."""
    return Snapshot(tasks=len(asyncio.all_tasks()), upstream=upstream_connections(state.http))
