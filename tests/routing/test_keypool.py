from __future__ import annotations

from worker.routing.keypool import KeyPool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_rotation() -> None:
    pool = KeyPool(("a", "b", "c"), cooldown=10, clock=Clock())
    assert [pool.acquire() for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_a_resting_key_is_skipped_until_its_cooldown_ends() -> None:
    clock = Clock()
    pool = KeyPool(("a", "b"), cooldown=10, clock=clock)
    assert pool.acquire() == "a"
    pool.rest("a")
    assert [pool.acquire() for _ in range(3)] == ["b", "b", "b"]
    assert pool.fresh_count() == 1
    clock.now += 10
    assert pool.acquire() == "a" and pool.fresh_count() == 2


def test_when_all_rest_the_one_resting_shortest_is_used() -> None:
    clock = Clock()
    pool = KeyPool(("a", "b"), cooldown=10, clock=clock)
    pool.rest("a")
    clock.now += 1
    pool.rest("b")
    assert not pool.has_fresh() and pool.acquire() == "a"


def test_no_keys_gives_an_empty_key() -> None:
    pool = KeyPool((), cooldown=1)
    assert pool.acquire() == "" and len(pool) == 0 and not pool.has_fresh()
    pool.rest("unknown")  # harmless
