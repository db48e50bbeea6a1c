"""The store's background work for the life of a process: the key poller and the usage writer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from worker.store.base import StoreUnavailable
from worker.store.keycache import KeyCache
from worker.store.recorder import UsageRecorder


class HasStore(Protocol):
    @property
    def key_cache(self) -> KeyCache | None: ...

    @property
    def recorder(self) -> UsageRecorder | None: ...

    @property
    def flush_interval(self) -> float: ...


@contextlib.asynccontextmanager
async def background(state: HasStore) -> AsyncIterator[None]:
    """Load the managed keys, then poll and flush until the block ends (the app's lifespan)."""
    tasks: list[asyncio.Task[None]] = []
    writer: asyncio.Task[None] | None = None
    if state.key_cache is not None:
        with contextlib.suppress(StoreUnavailable):  # unreachable now: the poller keeps trying
            await state.key_cache.refresh()
        tasks.append(asyncio.create_task(state.key_cache.run(), name="keys-poller"))
    if state.recorder is not None:
        writer = asyncio.create_task(state.recorder.run(state.flush_interval), name="usage-writer")
    try:
        yield
    finally:
        if writer is not None and state.recorder is not None:
            state.recorder.stop()  # its last flush runs now; state.aclose() flushes what is left
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await writer
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
