"""The batcher alone (pure logic: a recording store in place of SQLite or Redis): what goes in one round
trip, in which order, and what a failing store does to admissions and settlements."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from worker.core.identity import Limits
from worker.limits.batching import Batched
from worker.limits.policy import Ask, Settle, Verdict
from worker.store.base import StoreUnavailable


def ask(lease: str) -> Ask:
    return Ask("k", Limits(max_concurrency=1), 10, 0.0, lease, 60.0)


def settle(lease: str) -> Settle:
    return Settle("k", lease, 0, None, 0.0, "")


class Store:
    """Records each round trip; fails while `down`."""

    def __init__(self) -> None:
        self.trips: list[tuple[list[str], list[str]]] = []
        self.down = False
        self.out = 0
        """Round trips started."""
        self.reply = asyncio.Event()
        """Cleared: a round trip waits for it (the store is slow)."""
        self.reply.set()

    async def decide(self, asks: Sequence[Ask], settles: Sequence[Settle]) -> list[Verdict]:
        self.out += 1
        await asyncio.sleep(0)  # a round trip takes a turn of the loop at least
        await self.reply.wait()  # a round trip takes a turn of the loop at least
        if self.down:
            raise StoreUnavailable("down")
        self.trips.append(([a.lease for a in asks], [s.lease for s in settles]))
        return [Verdict(True) for _ in asks]


async def test_settlements_queued_before_an_admission_travel_with_it_and_come_first() -> None:
    store = Store()
    batched = Batched(store.decide)
    batched.settle_soon([settle("old")])  # an answer ended
    verdict = await batched.admit(ask("new"))  # the next request, before the settlement went out
    assert verdict.admitted
    assert store.trips == [(["new"], ["old"])]  # one round trip: the store frees "old" before deciding


async def test_admissions_and_settlements_arriving_during_a_round_trip_share_the_next() -> None:
    store = Store()
    store.reply.clear()
    batched = Batched(store.decide)
    first = asyncio.ensure_future(batched.admit(ask("a")))
    for _ in range(3):
        await asyncio.sleep(0)
    assert store.out == 1  # the first round trip is out, and waits for the store
    more = [asyncio.ensure_future(batched.admit(ask(lease))) for lease in ("b", "c")]
    batched.settle_soon([settle("a0"), settle("b0")])
    for _ in range(3):
        await asyncio.sleep(0)  # the new admissions are queued
    store.reply.set()
    await asyncio.gather(first, *more)
    assert store.trips == [(["a"], []), (["b", "c"], ["a0", "b0"])]


async def test_flush_returns_once_every_queued_settlement_was_sent() -> None:
    store = Store()
    batched = Batched(store.decide)
    batched.settle_soon([settle("x")])
    await batched.flush()
    assert store.trips == [([], ["x"])]
    await batched.flush()  # nothing queued: no round trip
    assert len(store.trips) == 1


async def test_a_failing_store_fails_admissions_and_says_once_that_settlements_are_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    batched = Batched(store.decide)
    store.down = True
    for lease in ("a", "b", "c"):
        batched.settle_soon([settle(lease)])
        with pytest.raises(StoreUnavailable):
            await batched.admit(ask(lease + "2"))
    await batched.flush()
    lost = [r for r in caplog.records if "could not settle" in r.getMessage()]
    assert len(lost) == 1  # not once per batch while the store is down
    store.down = False
    batched.settle_soon([settle("d")])
    await batched.flush()
    assert store.trips == [([], ["d"])]
    assert "settled again" in caplog.records[-1].getMessage()
