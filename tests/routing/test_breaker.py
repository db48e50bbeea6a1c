from __future__ import annotations

from worker.routing.breaker import CircuitBreaker


def state(breaker: CircuitBreaker) -> str:
    """Read through a function: mypy would otherwise keep the first narrowing of the attribute."""
    return breaker.state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_a_run_of_failures_and_a_success_resets_the_run() -> None:
    breaker = CircuitBreaker(3, cooldown=5, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed" and breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open" and not breaker.allow() and not breaker.available()


def test_half_open_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=5, clock=clock)
    breaker.record_failure()
    assert breaker.snapshot() == {"state": "open", "consecutive_failures": 1, "retry_in": 5.0}
    clock.now = 5
    assert breaker.available() and breaker.snapshot()["state"] == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_failure()
    assert state(breaker) == "open" and breaker.retry_in() == 5
    clock.now = 10
    assert breaker.allow()
    breaker.record_success()
    assert state(breaker) == "closed" and breaker.allow() and breaker.allow()


def test_a_probe_without_verdict_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, cooldown=1, clock=clock)
    breaker.record_failure()
    clock.now = 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def test_zero_turns_the_breaker_off() -> None:
    breaker = CircuitBreaker(0, cooldown=1)
    for _ in range(100):
        breaker.record_failure()
    assert state(breaker) == "closed" and breaker.allow()
