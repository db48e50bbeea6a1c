"""What the limits cost a request in store round trips: none for a request under no limit, one per
admission, and on the way out only the batched settlement. Counted at the limiter (each of its calls is
one transaction or one script/pipeline) and, on Redis, by the server itself (`INFO commandstats`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import redis

from tests.conftest import AUTH, make_settings
from worker.app import create_app
from worker.limits.base import Limiter
from worker.limits.batching import Batched
from worker.limits.policy import Ask, Settle, Verdict

CHAT = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}


class Counting:
    """Counts a limiter's round trips (each one transaction, or one pipeline of scripts) and what each
    carried, by wrapping the function its batcher sends a batch with."""

    def __init__(self, limiter: Limiter) -> None:
        batched: Batched = limiter._batched  # type: ignore[attr-defined]
        self.inner = batched.decide
        batched.decide = self.decide
        self.admits: list[int] = []
        self.settles: list[int] = []

    async def decide(self, asks: Sequence[Ask], settles: Sequence[Settle]) -> Sequence[Verdict]:
        self.admits.append(len(asks))
        self.settles.append(len(settles))
        return await self.inner(asks, settles)


def script_calls(url: str) -> int:
    """Scripts Redis has run (a script the server did not have yet is loaded once, then run)."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
        - int(stats.get(f"cmdstat_{name}", {}).get("failed_calls", 0))
        for name in ("eval", "evalsha")
    )


async def test_one_round_trip_per_admission_none_without_limits_and_settlements_batched(
    state_url: str,
) -> None:
    app = create_app(make_settings(state_url=state_url))
    counting = Counting(app.app.state.app_state.gate.limiter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        made = await client.post("/admin/v1/keys", json={"name": "l", "rpm": 1000}, headers=AUTH)
        limited = {"Authorization": f"Bearer {made.json()['key']}"}
        before = script_calls(state_url) if state_url.startswith("redis") else 0
        for _ in range(5):  # a key without limits, on a model without limits: no round trip at all
            assert (await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)).status_code == 200
        assert counting.admits == []
        replies = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=limited) for _ in range(20))
        )
        assert {r.status_code for r in replies} == {200}
        assert sum(counting.admits) == 20
        await asyncio.sleep(0.3)  # the last settlements have been sent
        assert sum(counting.settles) == 20
        # At most one round trip per admission (those that arrive together share one); settlements ride
        # in them or in batches of their own, fewer than one per request.
        assert 1 <= sum(1 for a in counting.admits if a) <= 20
        assert sum(1 for a in counting.admits if not a) < 20
        if state_url.startswith("redis"):
            # A round trip is at most two script runs: the settle script's, then the admit script's.
            runs = sum((a > 0) + (s > 0) for a, s in zip(counting.admits, counting.settles, strict=True))
            assert script_calls(state_url) - before == runs
    await app.app.state.app_state.aclose()
