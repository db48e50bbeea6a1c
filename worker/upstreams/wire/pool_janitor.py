"""Reclaim upstream connections that a cancelled request leaves orphaned in httpx's pool.

httpcore 1.0.9 (the latest release) has an open bug (encode/httpcore#1093, PR #1099): a request
cancelled at the wrong moment, after its connection is created or opened but before the connection
marks itself active, leaves that connection in the pool as `CONNECTING` or `HTTP/1.1 NEW` forever:
not idle, not closed, not expired, not available, so never reused nor removed. It keeps a pool slot
and a socket. A gateway cancels upstream requests whenever a client leaves (the 499 contract), so under
load the pool would slowly fill with these until every request fails with a pool timeout.

Only `HttpxWire` runs on httpcore's pool (the default aiohttp wire has its own), so only it calls this:
after an upstream request ends by cancellation, `reclaim_orphans` closes every connection that is
neither idle nor closed and that no request of the pool holds. It needs the pool's private lists: it
looks for them defensively and does nothing if they are not there (a fixed or changed httpcore).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("worker.upstream")


async def reclaim_orphans(pool: Any) -> int:
    """Close and drop the orphaned connections of an httpcore pool; return how many there were."""
    connections = getattr(pool, "_connections", None)
    requests = getattr(pool, "_requests", None)
    lock = getattr(pool, "_optional_thread_lock", None)
    if not isinstance(connections, list) or not isinstance(requests, list) or lock is None:
        return 0
    with lock:
        held = {id(request.connection) for request in requests if request.connection is not None}
        orphans = [c for c in connections if id(c) not in held and not c.is_idle() and not c.is_closed()]
        for connection in orphans:
            connections.remove(connection)
    for connection in orphans:
        await connection.aclose()
    if orphans:
        log.debug("reclaimed %d upstream connection(s) orphaned by a cancelled request", len(orphans))
    return len(orphans)
