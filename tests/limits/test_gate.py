"""The gate's choices that need no store: keys without limits, and a store that cannot be reached."""

from __future__ import annotations

import pytest

from tests.servers import free_port
from worker.config.models import ModelEntry, Target
from worker.core.identity import Identity, Limits
from worker.core.ir import ChatRequest, Message
from worker.limits.gate import Gate, LimitsUnavailable
from worker.limits.redis_limits import RedisLimiter


def gate(fail_open: bool) -> Gate:
    return Gate(RedisLimiter(f"redis://127.0.0.1:{free_port()}/0"), {}, 60.0, fail_open)


REQUEST = ChatRequest(model="qwq-32b", messages=(Message("user", "hi"),))
LIMITED = Identity("k", limits=Limits(rpm=5))
entry = ModelEntry("qwq-32b", (Target(adapter="simulator"),))


async def test_a_store_that_cannot_be_reached_refuses_limited_keys_when_closed() -> None:
    closed = gate(fail_open=False)
    with pytest.raises(LimitsUnavailable) as raised:
        await closed.admit(LIMITED, REQUEST, entry, "openai", None)
    assert raised.value.status == 503
    # A key without limits never touches the store.
    assert await closed.admit(Identity("free"), REQUEST, entry, "openai", None) == []
    await closed.close()


async def test_a_store_that_cannot_be_reached_lets_limited_keys_through_when_open() -> None:
    opened = gate(fail_open=True)
    assert await opened.admit(LIMITED, REQUEST, entry, "openai", None) == []
    await opened.close()
