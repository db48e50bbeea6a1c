"""Usage accounting: every finished request is added to in-memory sums, written to the store in batches.

The recorder is a `RecordSink` (`worker.core.outcome`): it runs on the event loop after the answer has
ended, adds the request to the sums of its group (hour, key, model, target, surface) and returns.
Nothing waits for the store. A task of the app's lifespan writes the sums every `USAGE_FLUSH_INTERVAL`
seconds (1 by default) and once more at shutdown, so a process killed outright loses at most the
requests of its last interval. Pending sums are bounded (`USAGE_MAX_PENDING` groups): while the store
is unreachable they are kept and written when it returns; a request whose group would exceed the bound
is dropped from accounting (never delayed), counted in `dropped` and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from worker.core.cost import Prices, price_of, tokens_from_chars
from worker.core.outcome import RequestRecord
from worker.core.tokens import estimate_usage
from worker.observe.hooks import usage_dropped
from worker.store.base import HOUR, USAGE_COUNTERS, Group, Store, StoreUnavailable

log = logging.getLogger("worker.usage")
N = len(USAGE_COUNTERS)
(REQUESTS, ERRORS, CLIENT_LEFT, STREAMED, PROMPT, COMPLETION, REASONING, COST, DURATION, TTFT, TTFT_N) = (
    range(N)
)


class UsageRecorder:
    def __init__(self, store: Store, prices: Mapping[str, Prices], max_pending: int = 10_000) -> None:
        self.store = store
        self.prices = prices
        """Target name (`slug#n`) or model slug → prices (`worker.core.cost`)."""
        self.max_pending = max_pending
        self.pending: dict[Group, list[float]] = {}
        self.last_used: dict[str, float] = {}
        self.dropped = 0
        """Requests not accounted because the pending sums were full (exported as a metric)."""
        self._store_down = False
        self._stop = asyncio.Event()

    def __call__(self, record: RequestRecord) -> None:
        if not record.surface:  # not a model request (health, admin, unknown routes, failed auth)
            return
        group = (
            int(record.started_at // HOUR) * HOUR,
            record.key_id,
            record.model,
            record.target,
            record.surface,
        )
        sums = self.pending.get(group)
        if sums is None:
            if len(self.pending) >= self.max_pending:
                self.dropped += 1
                usage_dropped()
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning(
                        "usage not recorded: %d pending groups, %d requests dropped",
                        self.max_pending,
                        self.dropped,
                    )
                return
            sums = self.pending[group] = [0.0] * N
        sums[REQUESTS] += 1
        if record.status >= 400:
            sums[ERRORS] += 1
        if record.streamed:
            sums[STREAMED] += 1
        if record.first_event_at is not None:
            sums[TTFT] += record.first_event_at - record.started
            sums[TTFT_N] += 1
        sums[DURATION] += record.duration
        prompt, completion, reasoning = _tokens(record)
        if record.status == 499:
            sums[CLIENT_LEFT] += 1
        sums[PROMPT] += prompt
        sums[COMPLETION] += completion
        sums[REASONING] += reasoning
        if prompt or completion:
            sums[COST] += price_of(self.prices, record.target, record.model).cost(prompt, completion)
        if record.key_id:
            self.last_used[record.key_id] = record.started_at

    async def flush(self) -> bool:
        """Write what is pending; on failure keep it for the next try. True when the store took it."""
        if not self.pending and not self.last_used:
            return True
        batch, used = self.pending, self.last_used
        self.pending, self.last_used = {}, {}
        try:
            await self.store.add_usage(batch, used)
        except StoreUnavailable as exc:
            self._keep(batch, used)
            if not self._store_down:
                log.warning("usage kept in memory, the state store is unreachable: %s", exc)
            self._store_down = True
            return False
        if self._store_down:
            log.warning("state store reachable again: pending usage written")
        self._store_down = False
        return True

    def _keep(self, batch: dict[Group, list[float]], used: dict[str, float]) -> None:
        for group, sums in batch.items():
            current = self.pending.get(group)
            if current is None:
                if len(self.pending) >= self.max_pending:
                    self.dropped += int(sums[REQUESTS])
                    usage_dropped(int(sums[REQUESTS]))
                    continue
                self.pending[group] = sums
            else:
                for i in range(N):
                    current[i] += sums[i]
        for key_id, moment in used.items():
            self.last_used[key_id] = max(moment, self.last_used.get(key_id, 0.0))

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds until `stop()`, then once more (a task of the app's lifespan).

        Stopped by an event rather than cancelled, so that a batch is never cut off halfway through its
        write (SQLite's thread would commit it anyway, and it would then be written twice)."""
        self._stop.clear()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)
            await self.flush()

    def stop(self) -> None:
        self._stop.set()

    async def close(self, limit: float = 5.0) -> None:
        """The last flush, at shutdown: bounded, so a dead store cannot hold the process up."""
        try:
            async with asyncio.timeout(limit):
                await self.flush()
        except TimeoutError:
            log.warning("usage of the last second not written: the state store did not answer")


def _tokens(record: RequestRecord) -> tuple[int, int, int]:
    """(prompt, completion, reasoning) tokens to charge: the usage sent, else an estimate of what the
    upstream generated before the client left."""
    usage = record.usage
    if usage is not None:
        return usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens or 0
    if not record.generated_chars:
        return 0, 0, 0
    prompt = estimate_usage(record.request, "").prompt_tokens if record.request is not None else 0
    return prompt, tokens_from_chars(record.generated_chars), 0
