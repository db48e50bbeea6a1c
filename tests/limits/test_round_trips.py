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
from worker.limits.policy import Ask, Settle, Verdict

CHAT = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}


class Counting:
    """A limiter that counts its calls (each one store round trip) and passes them on."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner
        self.admits = 0
        self.settles: list[int] = []

    async def admit(self, ask: Ask) -> Verdict:
        self.admits += 1
        return await self.inner.admit(ask)

    async def settle(self, batch: Sequence[Settle]) -> None:
        self.settles.append(len(batch))
        await self.inner.settle(batch)

    async def aclose(self) -> None:
        await self.inner.aclose()


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
    gate = app.app.state.app_state.gate
    counting = Counting(gate.limiter)
    gate.limiter = counting
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        made = await client.post("/admin/v1/keys", json={"name": "l", "rpm": 1000}, headers=AUTH)
        limited = {"Authorization": f"Bearer {made.json()['key']}"}
        before = script_calls(state_url) if state_url.startswith("redis") else 0
        for _ in range(5):  # a key without limits, on a model without limits: no round trip at all
            assert (await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)).status_code == 200
        assert counting.admits == 0 and counting.settles == []
        replies = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=limited) for _ in range(20))
        )
        assert {r.status_code for r in replies} == {200}
        assert counting.admits == 20
        await asyncio.sleep(0.3)  # the settlement timer has fired
        assert sum(counting.settles) == 20 and len(counting.settles) < 20
        if state_url.startswith("redis"):
            # At most one script per admission (admissions that arrive together share one run), and
            # one settle script per batch of finished requests, whatever the batch holds.
            assert 2 <= script_calls(state_url) - before <= 20 + len(counting.settles)
            assert len(counting.settles) < 20
    await app.app.state.app_state.aclose()
