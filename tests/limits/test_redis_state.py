"""How the Redis limiter keeps its state: hashes a script reads and writes once per batch, a state left
by an earlier version (one JSON document per key) carried over, scripts that survive a server restart."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from tests.redis_server import RedisServer
from worker.core.identity import Limits
from worker.limits.policy import Ask, Settle
from worker.limits.redis_limits import RedisLimiter
from worker.store.base import StoreUnavailable


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.stop()


def ask(limits: Limits, tokens: int = 10, cost: float = 0.0, lease: str | None = None) -> Ask:
    return Ask("k1", limits, tokens, cost, uuid.uuid4().hex if lease is None else lease, 60.0)


async def test_the_state_is_a_hash_and_leases_a_hash_of_their_own(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    limiter = RedisLimiter(redis_url)
    try:
        held = ask(Limits(rpm=60, tpm=1000, max_concurrency=2, budget_usd=5.0, budget_period="day"), cost=0.5)
        verdict = await limiter.admit(held)
        assert verdict.admitted and verdict.remaining_requests == 59 and verdict.remaining_tokens == 990
        state = {
            str(k): str(v)
            for k, v in redis.Redis.from_url(redis_url, decode_responses=True).hgetall("qwq:limit:k1").items()
        }
        assert set(state) == {"t", "k", "p", "s"}
        assert state["p"] == verdict.period and float(state["s"]) == 0.5
        assert float(state["t"]) == pytest.approx(time.time() + 1.0, abs=2.0)
        assert list(raw.hgetall("qwq:limit:k1:leases")) == [held.lease.encode()]
        await limiter.settle([Settle("k1", held.lease, -5, 1000, -0.25, verdict.period)])
        assert raw.hgetall("qwq:limit:k1:leases") == {}
        assert float(raw.hget("qwq:limit:k1", "s") or 0) == 0.25
        # Without a concurrency limit no lease is written, and settling an empty lease frees nothing.
        assert (await limiter.admit(ask(Limits(rpm=60), lease=""))).admitted
        assert not raw.exists("qwq:limit:k1:leases")
    finally:
        await limiter.aclose()


async def test_a_state_kept_as_one_json_document_is_carried_over(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    now = time.time()
    period = time.strftime("d:%Y-%m-%d", time.gmtime(now))
    document = {
        "tat": now + 60.0,  # a minute of requests already booked: the limit is reached
        "ttat": 0,
        "leases": {"live": now + 60.0, "gone": now - 1.0},
        "period": period,
        "spent": 0.75,
    }
    raw.set("qwq:limit:k1", orjson.dumps(document))
    limiter = RedisLimiter(redis_url)
    try:
        assert (await limiter.admit(ask(Limits(rpm=10)))).refused == "requests"
        assert raw.type("qwq:limit:k1") == b"hash"
        assert (await limiter.admit(ask(Limits(max_concurrency=1)))).refused == "concurrency"
        assert list(raw.hgetall("qwq:limit:k1:leases")) == [b"live"]  # the expired one is dropped
        budget = Limits(budget_usd=1.0, budget_period="day")
        # 0.75 was spent: 0.75 and 0.95 are under the budget, 1.15 is not (from nothing spent, five pass).
        verdicts = [await limiter.admit(ask(budget, cost=0.2)) for _ in range(3)]
        assert [v.refused for v in verdicts] == [None, None, "budget"]
    finally:
        await limiter.aclose()


async def test_admissions_and_settlements_go_on_after_the_server_forgets_its_scripts(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    limiter = RedisLimiter(redis_url)
    try:
        limits = Limits(tpm=1000)
        first = ask(limits, tokens=600)
        assert (await limiter.admit(first)).admitted
        raw.script_flush()  # what a restarted server has: an empty script cache
        await limiter.settle([Settle("k1", first.lease, -500, 1000, 0.0, "")])
        raw.script_flush()
        assert (await limiter.admit(ask(limits, tokens=600))).admitted  # the 500 given back count
    finally:
        await limiter.aclose()


async def test_a_failed_settlement_neither_fails_its_batchs_admissions_nor_desyncs_the_connection(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A settle script run and an admit script run share one write. When the first fails (here its
    leases key holds a string), the admissions are still decided and every reply is read, so the next
    batch reads its own reply."""
    raw = redis.Redis.from_url(redis_url)
    limiter = RedisLimiter(redis_url)
    limits = Limits(rpm=60)
    try:
        assert (await limiter.admit(ask(limits))).admitted  # connected, scripts loaded
        raw.set("qwq:limit:broken:leases", "not a hash")
        limiter.settle_soon([Settle("broken", "lease-1", 0, None, 0.0, "")])
        verdict = await limiter.admit(ask(limits))  # sent in the same write as the settlement
        assert verdict.admitted and verdict.remaining_requests == 58
        assert "could not settle 1 finished requests" in caplog.text
        assert (await limiter.admit(ask(limits))).remaining_requests == 57
    finally:
        await limiter.aclose()


async def test_a_key_of_the_wrong_type_is_a_store_error_for_its_batch_until_deleted(redis_url: str) -> None:
    """docs/limits.md: a state Redis cannot read (by hand only) fails the admission script, which the
    gate handles by `LIMITS_ON_STORE_ERROR`; deleting the key ends it."""
    raw = redis.Redis.from_url(redis_url)
    limiter = RedisLimiter(redis_url)
    limits = Limits(max_concurrency=2)
    try:
        raw.set("qwq:limit:k1:leases", "not a hash")
        with pytest.raises(StoreUnavailable):
            await limiter.admit(ask(limits))
        raw.delete("qwq:limit:k1", "qwq:limit:k1:leases")
        assert (await limiter.admit(ask(limits))).admitted
    finally:
        await limiter.aclose()
