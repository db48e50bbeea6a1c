"""Limit state in this process's memory: exact for one process only.

It serves a model's own limits when there is no state store (`STATE_URL=off`); the gateway refuses to
start where a second process would keep a second copy (`worker.limits.deployment`)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from worker.limits.policy import Ask, KeyState, Settle, Verdict, admit_all, reconcile


class MemoryLimiter:
    """No store, so no round trip to batch: admissions are decided and settlements applied at once."""

    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}

    async def admit(self, ask: Ask) -> Verdict:
        held = [(self.states.setdefault(name, KeyState()), limits) for name, limits in ask.held()]
        return admit_all(held, ask, time.time())  # books in all of them or in none

    def settle_soon(self, settles: Iterable[Settle]) -> None:
        for settle in settles:
            state = self.states.get(settle.key_id)
            if state is not None:
                reconcile(state, settle)

    async def settle(self, settles: Iterable[Settle]) -> None:
        self.settle_soon(settles)

    async def aclose(self) -> None:
        self.states.clear()
