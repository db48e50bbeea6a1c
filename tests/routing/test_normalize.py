"""`normalize`: Finish and usage last and once, estimated usage flagged, first-event and idle timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from worker.core.errors import UpstreamTimeout
from worker.core.ir import (
    ChatRequest,
    Finish,
    Message,
    TextDelta,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
    UsageEvent,
)
from worker.core.tokenizer import prompt_tokens
from worker.routing.normalize import normalize

REQUEST = ChatRequest(model="m", messages=(Message("user", "Say hello to the gateway"),), stream=True)


async def source(*items: UpstreamEvent | float) -> AsyncIterator[UpstreamEvent]:
    for item in items:
        if isinstance(item, float):
            await asyncio.sleep(item)
        else:
            yield item


async def collect(events: AsyncIterator[UpstreamEvent]) -> list[UpstreamEvent]:
    return [event async for event in events]


async def test_finish_and_usage_are_moved_to_the_end_exactly_once() -> None:
    upstream = source(UsageEvent(Usage(1, 2)), TextDelta("a"), Finish("length"), TextDelta("b"))
    out = await collect(normalize(upstream, REQUEST, None, None))
    assert out == [TextDelta("a"), TextDelta("b"), Finish("length"), UsageEvent(Usage(1, 2))]


async def test_usage_is_estimated_and_flagged_when_the_upstream_sends_none() -> None:
    out = await collect(normalize(source(TextDelta("Hello"), TextDelta(" world!")), REQUEST, None, None))
    assert out[-2:] == [
        Finish("stop"),
        UsageEvent(Usage(prompt_tokens(REQUEST), 3, None, True)),
    ]
    assert out[-1].usage.as_dict()["estimated"] is True  # type: ignore[union-attr]


async def test_a_tool_call_without_finish_reason_finishes_as_tool_calls() -> None:
    out = await collect(normalize(source(ToolCallDelta(0, "{}", "c1", "f")), REQUEST, None, None))
    assert out[1] == Finish("tool_calls")


async def test_first_event_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="before its first event"):
        await collect(normalize(source(0.5, TextDelta("late")), REQUEST, 0.1, 10.0))


async def test_idle_timeout_between_events() -> None:
    events: list[UpstreamEvent] = []
    with pytest.raises(UpstreamTimeout, match="between two events"):
        async for event in normalize(source(TextDelta("a"), 0.5, TextDelta("b")), REQUEST, 10.0, 0.1):
            events.append(event)
    assert events == [TextDelta("a")]


async def test_slow_but_flowing_is_never_idle() -> None:
    """Twelve gaps of 50 ms (0.6 s in all) under a 0.2 s idle timeout: healthy, not stalled."""
    flowing = source(*[x for _ in range(12) for x in (0.05, TextDelta("t"))])
    out = await collect(normalize(flowing, REQUEST, 0.2, 0.2))
    assert len(out) == 14
