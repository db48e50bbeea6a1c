"""Cheap, read-only counters of what a process holds open, for tests, benchmarks and operators.

`snapshot(state)` must run on the server's own event loop (e.g. `LiveServer.call(...)` in tests). It
reports the asyncio tasks alive on that loop and the connections in the upstream wire's pool, so a
test can prove that abandoned streams leave nothing behind. The default pool is aiohttp's; with an
outbound proxy it is httpx's own. Neither library has a public accessor for its pool: each wire's
`connection_counts` is the one place that reaches into its own (and fails loudly if that ever moves).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from worker.state import AppState
from worker.upstreams.wire.seam import Wire


@dataclass(frozen=True, slots=True)
class PoolCount:
    open: int  # connections not closed: idle (kept alive) or carrying a request
    busy: int  # of those, carrying a request right now


def upstream_connections(wire: Wire) -> PoolCount:
    opened, busy = wire.connection_counts()
    return PoolCount(open=opened, busy=busy)


@dataclass(frozen=True, slots=True)
class Snapshot:
    tasks: int
    upstream: PoolCount


async def snapshot(state: AppState) -> Snapshot:
    """Tasks on the running loop (this coroutine's own task included) and the upstream pool's state."""
    return Snapshot(tasks=len(asyncio.all_tasks()), upstream=upstream_connections(state.wire))
