"""A circuit breaker per upstream target: stop sending requests to a target that keeps failing.

    closed     --(BREAKER_FAILURES failures in a row)-->  open
    open       --(BREAKER_COOLDOWN seconds pass)------->  half-open: exactly one probe request is let through
    half-open  --(the probe succeeds)------------------>  closed
    half-open  --(the probe fails)--------------------->  open again, for another cool-down

Only failures that say something about the target count (connection errors, timeouts, 5xx, answers of
the wrong shape, refused credentials); a request the upstream refused as invalid (400) or rate limited
(429) does not. `failures_to_open == 0` turns the breaker off: it then always allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    __slots__ = ("_clock", "_cooldown", "_failures_to_open", "_opened_at", "_probing", "failures", "state")

    def __init__(
        self, failures_to_open: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._failures_to_open = failures_to_open
        self._cooldown = cooldown
        self._clock = clock
        self._opened_at = 0.0
        self._probing = False
        self.failures = 0
        self.state: State = "closed"

    def _cooled(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown

    def available(self) -> bool:
        """Would `allow()` let a request through now? (No side effect: for routing and /readyz.)"""
        if self.state == "closed":
            return True
        if self.state == "open":
            return self._cooled()
        return not self._probing

    def allow(self) -> bool:
        """Take the right to send one request; in half-open state only one probe holds it at a time."""
        if self.state == "closed":
            return True
        if self.state == "open":
            if not self._cooled():
                return False
            self.state = "half_open"
        if self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self.failures = 0
        self._probing = False
        self.state = "closed"

    def record_failure(self) -> None:
        self.failures += 1
        self._probing = False
        if self._failures_to_open <= 0:
            return
        if self.state == "half_open" or self.failures >= self._failures_to_open:
            self.state = "open"
            self._opened_at = self._clock()

    def release(self) -> None:
        """The request that held the probe ended without a verdict (the client left): free the slot."""
        self._probing = False

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it would now)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self._opened_at + self._cooldown - self._clock())

    def snapshot(self) -> dict[str, Any]:
        state = "half_open" if self.state == "open" and self._cooled() else self.state
        out: dict[str, Any] = {"state": state, "consecutive_failures": self.failures}
        if state == "open":
            out["retry_in"] = round(self.retry_in(), 3)
        return out
