"""The admission rules, held to the same scenarios in memory, in a SQLite file and in a real redis-server,
and exact when two limiters (two processes, in effect) admit against the same store at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from tests.limits.test_round_trips import script_calls
from worker.core.identity import NO_LIMITS, Limits
from worker.limits import open_limiter
from worker.limits.base import Limiter
from worker.limits.memory import MemoryLimiter
from worker.limits.policy import Ask, Settle


@pytest.fixture(params=["memory", "store"])
async def make(request: pytest.FixtureRequest, state_url: str) -> AsyncIterator[Callable[[], Limiter]]:
    """Limiters sharing one state: the same object in memory, separate ones on the same store."""
    made: list[Limiter] = []
    shared = MemoryLimiter()

    def new() -> Limiter:
        limiter: Limiter = shared if request.param == "memory" else open_limiter(state_url)
        made.append(limiter)
        return limiter

    yield new
    for limiter in made:
        await limiter.aclose()


def ask(limits: Limits, tokens: int = 10, cost: float = 0.0, ttl: float = 60.0, key: str = "k1") -> Ask:
    return Ask(key, limits, tokens, cost, uuid.uuid4().hex, ttl)


async def test_requests_per_minute_admit_exactly_the_limit_from_two_limiters_at_once(
    make: Callable[[], Limiter],
) -> None:
    first, second = make(), make()
    limits = Limits(rpm=10)
    verdicts = await asyncio.gather(*(lim.admit(ask(limits)) for _ in range(40) for lim in (first, second)))
    admitted = [v for v in verdicts if v.admitted]
    assert len(admitted) == 10
    refused = [v for v in verdicts if not v.admitted]
    assert {v.refused for v in refused} == {"requests"}
    assert all(0 < v.retry_after <= 6.0 + 1e-3 for v in refused)  # one interval, to float precision
    assert sorted(v.remaining_requests or 0 for v in admitted) == list(range(10))
    # Another key is counted apart.
    assert (await first.admit(ask(limits, key="k2"))).admitted


async def test_tokens_per_minute_hold_the_reservations_and_give_back_what_was_not_used(
    make: Callable[[], Limiter],
) -> None:
    limiter = make()
    limits = Limits(tpm=1000)
    first = ask(limits, tokens=600)
    assert (await limiter.admit(first)).admitted
    second = await limiter.admit(ask(limits, tokens=600))
    assert not second.admitted and second.refused == "tokens"
    # The first request used 100 of its 600 reserved tokens: 500 come back.
    await limiter.settle([Settle("k1", first.lease, -500, 1000, 0.0, "")])
    verdict = await limiter.admit(ask(limits, tokens=600))
    assert verdict.admitted and verdict.remaining_tokens is not None and verdict.remaining_tokens <= 300
    # A request larger than the whole limit can never pass.
    assert (await limiter.admit(ask(limits, tokens=5000, key="k3"))).refused == "tokens"


async def test_concurrency_leases_are_freed_by_settling_or_by_their_time_to_live(
    make: Callable[[], Limiter],
) -> None:
    limiter = make()
    limits = Limits(max_concurrency=2)
    held = [ask(limits), ask(limits, ttl=0.3)]
    for a in held:
        assert (await limiter.admit(a)).admitted
    assert (await limiter.admit(ask(limits))).refused == "concurrency"
    await limiter.settle([Settle("k1", held[0].lease, 0, None, 0.0, "")])
    assert (await limiter.admit(ask(limits))).admitted
    assert (await limiter.admit(ask(limits))).refused == "concurrency"
    await asyncio.sleep(0.4)  # the short lease expired: its holder never came back (a killed process)
    assert (await limiter.admit(ask(limits))).admitted


async def test_a_budget_is_reserved_at_the_worst_case_and_overrun_by_at_most_one_request(
    make: Callable[[], Limiter],
) -> None:
    first, second = make(), make()
    limits = Limits(budget_usd=1.0, budget_period="day")
    verdicts = await asyncio.gather(
        *(lim.admit(ask(limits, cost=0.3)) for _ in range(10) for lim in (first, second))
    )
    admitted = [v for v in verdicts if v.admitted]
    assert len(admitted) == 4  # 0, 0.3, 0.6, 0.9 are under 1.0; 1.2 is not
    assert {v.refused for v in verdicts if not v.admitted} == {"budget"}
    period = admitted[0].period
    assert period.startswith("d:")
    # Each used a tenth of its worst case: 4 x 0.27 is given back, so requests pass again.
    await first.settle([Settle("k1", "", 0, None, -0.27, period) for _ in range(4)])
    assert (await second.admit(ask(limits, cost=0.3))).admitted


async def test_a_refused_request_books_nothing(make: Callable[[], Limiter]) -> None:
    limiter = make()
    limits = Limits(rpm=1, tpm=100)
    assert (await limiter.admit(ask(limits, tokens=200))).refused == "tokens"
    assert (await limiter.admit(ask(limits, tokens=50))).admitted  # the refused one took no request slot


def model_ask(key: str, key_limits: Limits, model_limits: Limits, ttl: float = 60.0) -> Ask:
    return Ask(key, key_limits, 10, 0.0, uuid.uuid4().hex, ttl, "qwq-32b", model_limits)


async def test_a_models_limit_is_shared_by_every_key_and_booked_with_the_keys_in_one_admission(
    make: Callable[[], Limiter],
) -> None:
    first, second = make(), make()
    model = Limits(rpm=3)
    keys = [Limits(rpm=10), NO_LIMITS]  # a limited key and one without limits of its own
    verdicts = await asyncio.gather(
        *(lim.admit(model_ask(f"k{i % 2}", keys[i % 2], model)) for i in range(20) for lim in (first, second))
    )
    assert sum(v.admitted for v in verdicts) == 3
    refused = [v for v in verdicts if not v.admitted]
    assert all(v.refused == "requests" for v in refused)
    # The limited key's are refused by the model's state (the second it falls under: `by` 1), the
    # other key's by the model's too (its first and only).
    assert {v.by for v in refused} == {0, 1}
    # A refusal by the model takes no slot of the key: only k0's admitted requests count against it.
    k0_admitted = sum(v.admitted for i, v in enumerate(verdicts) if (i // 2) % 2 == 0)
    after = await first.admit(model_ask("k0", keys[0], NO_LIMITS))
    assert after.remaining_requests == 10 - k0_admitted - 1


async def test_a_refusal_by_the_key_takes_no_slot_of_the_model(make: Callable[[], Limiter]) -> None:
    limiter = make()
    model = Limits(max_concurrency=1)
    busy = Limits(max_concurrency=1)
    held = model_ask("k1", busy, NO_LIMITS)
    assert (await limiter.admit(held)).admitted
    refused = await limiter.admit(model_ask("k1", busy, model))
    assert (refused.refused, refused.by) == ("concurrency", 0)
    # The model's only slot is still free for another key, and settling frees both states' leases.
    taken = model_ask("k2", NO_LIMITS, model)
    assert (await limiter.admit(taken)).admitted
    assert (await limiter.admit(model_ask("k3", NO_LIMITS, model))).by == 0  # the model's state is first
    await limiter.settle([Settle("model:qwq-32b", taken.lease, 0, None, 0.0, "")])
    assert (await limiter.admit(model_ask("k3", NO_LIMITS, model))).admitted


async def test_a_crowd_larger_than_a_connection_pool_is_decided_exactly_without_store_errors(
    state_url: str,
) -> None:
    # 300 admissions in flight at once: more than redis-py's default pool of 100 connections (which
    # raises "Too many connections") and than one SQLite transaction batch.
    limiter = open_limiter(state_url)
    try:
        limits = Limits(rpm=50)
        verdicts = await asyncio.gather(*(limiter.admit(ask(limits)) for _ in range(300)))
    finally:
        await limiter.aclose()
    assert sum(v.admitted for v in verdicts) == 50
    assert {v.refused for v in verdicts if not v.admitted} == {"requests"}


async def test_admissions_waiting_together_share_a_round_trip(state_url: str) -> None:
    limiter = open_limiter(state_url)
    round_trips: list[str] = []
    if state_url.startswith("sqlite"):
        limiter._db.set_trace_callback(  # type: ignore[attr-defined]
            lambda sql: round_trips.append(sql) if sql.startswith("BEGIN") else None
        )
    else:
        before = script_calls(state_url)
    try:
        verdicts = await asyncio.gather(*(limiter.admit(ask(Limits(rpm=10))) for _ in range(200)))
    finally:
        await limiter.aclose()
    assert sum(v.admitted for v in verdicts) == 10
    # The first admission goes alone; the 199 that arrived meanwhile are decided together.
    made = len(round_trips) if state_url.startswith("sqlite") else script_calls(state_url) - before
    assert 1 <= made <= 3
