"""The limiter protocol: admissions and settlements, batched together into store round trips
(`worker.limits.batching`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from worker.limits.policy import Ask, Settle, Verdict


class Limiter(Protocol):
    """Where limit state lives; `admit` may raise `worker.store.StoreUnavailable`."""

    async def admit(self, ask: Ask) -> Verdict: ...

    def settle_soon(self, settles: Iterable[Settle]) -> None:
        """Queue finished requests' settlements for the next round trip (never waits)."""

    async def settle(self, settles: Iterable[Settle]) -> None:
        """Queue settlements and wait until they have been written (or logged as lost)."""

    async def aclose(self) -> None:
        """Write what is queued, then let go of the store."""
