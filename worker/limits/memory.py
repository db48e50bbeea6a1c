"""Limit state in this process's memory: exact for one process (`STATE_URL=off` without `--workers`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from worker.limits.policy import Ask, KeyState, Settle, Verdict, admit, reconcile


class MemoryLimiter:
    def __init__(self) -> None:
        self.states: dict[str, KeyState] = {}

    async def admit(self, ask: Ask) -> Verdict:
        state = self.states.setdefault(ask.key_id, KeyState())
        return admit(state, ask, time.time())

    async def settle(self, batch: Sequence[Settle]) -> None:
        for settle in batch:
            state = self.states.get(settle.key_id)
            if state is not None:
                reconcile(state, settle)

    async def aclose(self) -> None:
        self.states.clear()
