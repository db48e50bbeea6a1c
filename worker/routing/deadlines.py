"""Every time limit on a request, in one place: the overall cap and the waits for the upstream.

- `RequestDeadline` is `REQUEST_DEADLINE`: a fixed point in time, counted from the moment the router
  takes the request. The router caps each attempt's first-byte timeout and each retry pause by what is
  left of it, and `RequestDeadline.bound` cuts the answer's stream of events when it passes. The
  per-read timeouts cannot stop an upstream that trickles one token a minute forever; this can. Time
  spent sending to a slow client is not interrupted (that is backpressure, not a stuck upstream), but
  the next wait for an event fails at once once the deadline is past. Off (0) by default: a long,
  healthy reasoning answer should not be cut unless the operator asks for it.
- `WaitDeadline` is `UPSTREAM_FIRST_BYTE_TIMEOUT` and `UPSTREAM_IDLE_TIMEOUT`: a rearmable deadline
  for waiting on an upstream, O(1) per event instead of one timer per event. `asyncio.timeout()`
  around every `await` of the next event creates and cancels a timer in the loop's heap for each
  event; profiled on a 512-event stream that was ~20% of the gateway's CPU (docs/performance.md).
  Here one timer serves the whole stream: `arm()` only notes the time, and when the timer fires it
  either finds the deadline moved (and sleeps again until the new one) or cancels the waiting task,
  which `expired()` then turns into a timeout. Only time spent waiting counts: the deadline is armed
  before each wait for the upstream and disarmed while the event is handed on, so a slow client
  (backpressure) never looks like a silent upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from worker.core.closing import close
from worker.core.errors import UpstreamTimeout
from worker.core.ir import Event


class RequestDeadline:
    """What is left of `REQUEST_DEADLINE` for one request (`seconds` <= 0: no deadline)."""

    __slots__ = ("_loop", "seconds", "started")

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.seconds = seconds
        self.started = self._loop.time()

    def remaining(self) -> float | None:
        if self.seconds <= 0:
            return None
        return self.seconds - (self._loop.time() - self.started)

    def cap(self, timeout: float | None) -> float | None:
        """`timeout`, shortened to the time left (None: no limit from either)."""
        left = self.remaining()
        if left is None:
            return timeout
        return max(0.0, left) if timeout is None else max(0.0, min(timeout, left))

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def bound(self, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        """`events`, failing with `UpstreamTimeout` once the deadline passes; unchanged when there is none."""
        if self.seconds <= 0:
            return events
        return self._capped(events)

    async def _capped(self, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        when = self.started + self.seconds
        iterator = aiter(events)
        try:
            while True:
                try:
                    async with asyncio.timeout_at(when):
                        event = await anext(iterator)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    raise UpstreamTimeout(
                        f"The request ran into its overall deadline of {self.seconds:g} s (REQUEST_DEADLINE)"
                    ) from exc
                yield event
        finally:
            await close(iterator)


class WaitDeadline:
    __slots__ = ("_handle", "_horizon", "_loop", "_started", "_task", "armed", "fired", "timeout")

    def __init__(self, horizon: float | None = None) -> None:
        """`horizon`: the shortest timeout this deadline will be armed with. The timer is never set
        further ahead, so that re-arming with a shorter timeout (idle after first byte) finds it early
        enough and needs no new timer: one timer per stream instead of two."""
        self._horizon = horizon
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a deadline belongs to a task"
        self._task = task
        self._handle: asyncio.TimerHandle | None = None
        self.armed = False
        self._started = 0.0
        self.timeout: float | None = None
        self.fired = False

    def arm(self, timeout: float | None) -> None:
        """Start counting `timeout` seconds from now (None: wait for ever)."""
        if timeout is not None and timeout == self.timeout and self._handle is not None:
            # Re-armed with the same timeout (every event after the first): the pending timer was set
            # for an earlier start, so it fires no later than the new deadline; noting the time is all.
            self._started = self._loop.time()
            self.armed = True
            return
        self.timeout = timeout
        self.armed = timeout is not None
        if timeout is None:
            return
        self._started = self._loop.time()
        due = self._started + timeout
        if self._handle is not None and self._handle.when() > due:
            # The new deadline is earlier than the pending timer (the first-byte timeout is usually far
            # longer than the idle one): a timer that fires late would never catch the stall.
            self._handle.cancel()
            self._handle = None
        if self._handle is None:
            horizon = self._horizon
            wake = due if horizon is None or horizon >= timeout else self._started + horizon
            self._handle = self._loop.call_at(wake, self._fire)

    def disarm(self) -> None:
        """Not waiting now. Per-event loops may set `armed = False` themselves: the same, a call less."""
        self.armed = False

    def _fire(self) -> None:
        self._handle = None
        if not self.armed or self.timeout is None:
            return  # not waiting now; `arm` starts a new timer
        due = self._started + self.timeout
        if self._loop.time() < due:  # re-armed since this timer was set: sleep until the new deadline
            self._handle = self._loop.call_at(due, self._fire)
            return
        self.fired = True
        self._task.cancel()

    def expired(self) -> bool:
        """After a CancelledError: True (and the cancellation absorbed) if it was this deadline's own."""
        if not self.fired:
            return False
        self.fired = False
        return self._task.uncancel() == 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
