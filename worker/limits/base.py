"""The limiter protocol: one round trip to admit a request, one per batch to settle finished ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from worker.limits.policy import Ask, Settle, Verdict


class Limiter(Protocol):
    """Where limit state lives; `admit` and `settle` may raise `worker.store.StoreUnavailable`."""

    async def admit(self, ask: Ask) -> Verdict: ...

    async def settle(self, batch: Sequence[Settle]) -> None: ...

    async def aclose(self) -> None: ...
