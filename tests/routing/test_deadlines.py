"""`REQUEST_DEADLINE`: an overall cap that cuts a trickling stream, and nothing when it is 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from worker.core.errors import UpstreamTimeout
from worker.core.ir import Event, TextDelta
from worker.routing.deadlines import with_deadline


async def trickle(count: int, gap: float) -> AsyncIterator[Event]:
    for _ in range(count):
        await asyncio.sleep(gap)
        yield TextDelta("t")


async def test_the_deadline_cuts_a_stream_that_never_goes_idle() -> None:
    seen: list[Event] = []
    with pytest.raises(UpstreamTimeout, match="REQUEST_DEADLINE"):
        async for event in with_deadline(trickle(100, 0.05), 0.3):
            seen.append(event)
    assert 2 <= len(seen) <= 7


async def test_zero_is_off_and_passes_the_stream_through() -> None:
    events = trickle(3, 0.0)
    assert with_deadline(events, 0) is events


async def test_a_stream_within_the_deadline_is_untouched() -> None:
    assert len([e async for e in with_deadline(trickle(5, 0.01), 5)]) == 5
