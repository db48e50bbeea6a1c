"""Admissions and settlements that arrive together, sent together: one store round trip per batch.

A limiter hands each admission and each finished request's settlement to `Batched`. The first starts a
decider task, and whatever arrives while a batch is out with the store waits for the next batch. Under
no load a batch holds one admission or one settlement and goes at once (no added wait); at 32 requests
in flight a batch holds most of them, so the store sees a round trip per batch instead of one per
request.

A batch applies its settlements before it decides its admissions, and each store decides the
admissions one after another, in order, so the outcome is the one separate round trips would have had.
That order is what lets a client wait for its answer and send the next request at once under a
concurrency limit of 1: its earlier request's lease was queued for settling when that answer ended, so
it is freed in the same round trip as the new admission at the latest, never after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from worker.limits.policy import Ask, Settle, Verdict

log = logging.getLogger("worker.limits")

MAX_BATCH = 256
"""Most admissions in one round trip: bounds how long one holds the store (a lock, a script)."""
MAX_SETTLES = 1024
"""Most settlements in one round trip (the rest go in the next batch, at once)."""

Decide = Callable[[Sequence[Ask], Sequence[Settle]], Awaitable[Sequence[Verdict]]]
"""One store round trip: apply the settlements, then decide the admissions in order."""


class Batched:
    def __init__(self, decide: Decide) -> None:
        self.decide = decide
        self._waiting: list[tuple[Ask, asyncio.Future[Verdict]]] = []
        self._settles: list[Settle] = []
        self._flushed: list[asyncio.Future[None]] = []
        self._decider: asyncio.Task[None] | None = None  # held so the running task is not collected
        self._settling_fails = False  # said once when settlements start failing, once when they recover

    async def admit(self, ask: Ask) -> Verdict:
        waiter: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._waiting.append((ask, waiter))
        self._start()
        return await waiter

    def settle_soon(self, settles: Iterable[Settle]) -> None:
        """Queue settlements for the next round trip (never waits): a record sink calls this."""
        self._settles.extend(settles)
        with contextlib.suppress(RuntimeError):  # no running loop: written by the next `flush`
            self._start()

    async def settle(self, settles: Iterable[Settle]) -> None:
        """Queue settlements and wait until the round trip that carries them has ended."""
        self._settles.extend(settles)
        await self.flush()

    async def flush(self) -> None:
        """Wait until every settlement queued so far has been sent (or logged as lost: a store that
        cannot be reached leaves leases to expire by their time-to-live)."""
        if not self._settles and self._decider is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushed.append(done)
        self._start()
        await done

    def _start(self) -> None:
        if self._decider is None:
            self._decider = asyncio.get_running_loop().create_task(self._decide_waiting())

    async def _decide_waiting(self) -> None:
        try:
            while self._waiting or self._settles or self._flushed:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                settles = self._settles[:MAX_SETTLES]
                del self._settles[:MAX_SETTLES]
                flushed = self._flushed if not self._settles else []
                if flushed:
                    self._flushed = []
                await self._round_trip(batch, settles)
                for done in flushed:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._decider = None

    async def _round_trip(
        self, batch: list[tuple[Ask, asyncio.Future[Verdict]]], settles: list[Settle]
    ) -> None:
        if not batch and not settles:
            return
        try:
            verdicts = await self.decide([ask for ask, _ in batch], settles)
        except Exception as exc:  # StoreUnavailable, or a bug: every waiter of the batch hears it
            if settles and not self._settling_fails:
                # The reservations stay booked (the safe side); the leases expire by their time-to-live.
                log.warning(
                    "could not settle %d finished requests: %s (said once until it recovers)",
                    len(settles),
                    exc,
                )
                self._settling_fails = True
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        if settles and self._settling_fails:
            log.warning("finished requests are settled again")
            self._settling_fails = False
        for (_, waiter), verdict in zip(batch, verdicts, strict=True):
            if not waiter.done():
                waiter.set_result(verdict)
