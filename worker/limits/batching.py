"""Admissions that arrive together, decided together: one store round trip for a batch of requests.

A limiter hands each admission to `Batched`; the first starts a decider task, and every admission
that arrives while a batch is out with the store waits for the next batch. Under no load each batch
holds one admission (no added wait: the decider starts at once); at 32 requests in flight a batch
holds most of them, so the store sees a round trip per batch instead of one per request. Each store
decides a batch's admissions one after another, in order, so the outcome is the one separate round
trips would have had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from worker.limits.policy import Ask, Verdict

MAX_BATCH = 256
"""Most admissions in one round trip: bounds how long one holds the store (a lock, a script)."""

Decide = Callable[[Sequence[Ask]], Awaitable[Sequence[Verdict]]]


class Batched:
    def __init__(self, decide: Decide) -> None:
        self._decide = decide
        self._waiting: list[tuple[Ask, asyncio.Future[Verdict]]] = []
        self._decider: asyncio.Task[None] | None = None  # held so the running task is not collected

    async def admit(self, ask: Ask) -> Verdict:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Verdict] = loop.create_future()
        self._waiting.append((ask, waiter))
        if self._decider is None:
            self._decider = loop.create_task(self._decide_waiting())
        return await waiter

    async def _decide_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    verdicts = await self._decide([ask for ask, _ in batch])
                except Exception as exc:  # StoreUnavailable, or a bug: every waiter of the batch hears it
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for (_, waiter), verdict in zip(batch, verdicts, strict=True):
                    if not waiter.done():
                        waiter.set_result(verdict)
        finally:
            self._decider = None
