"""What follows `[DONE]`, read after the client has its answer: in the background, bounded.

An upstream usually ends its body right after `[DONE]`, and then the connection goes straight back to
the pool. One that keeps the body open (a proxy that holds the chunked body, a server that sends its
last bytes late) must not hold the client's end back: the exchange returns at `[DONE]`, the client
gets its finish, usage and `[DONE]` at once, and the rest is read here, at most `DRAIN_BYTES` within
`DRAIN_SECONDS`. A body that ends in time gives its connection back to the pool; any other is closed,
never reused with bytes of the old answer still in it.

The tasks are kept here (the event loop holds only weak references to tasks) and counted for
`worker.introspect`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

DRAIN_SECONDS = 2.0
DRAIN_BYTES = 64 * 1024

_tasks: set[asyncio.Task[None]] = set()


def in_background(coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def draining() -> int:
    """Bodies being drained now."""
    return len(_tasks)


async def drain(read: Callable[[], Coroutine[Any, Any, bytes]]) -> bool:
    """Read with `read()` (b"" at the end) until the end, `DRAIN_BYTES` or `DRAIN_SECONDS`; True if the
    body ended, so its connection can be reused."""
    size = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while size <= DRAIN_BYTES:
                chunk = await read()
                if not chunk:
                    return True
                size += len(chunk)
    except Exception:  # a timeout, a reset: either way the connection is not reused
        pass
    return False
