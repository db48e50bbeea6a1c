"""Deadlines: `REQUEST_DEADLINE` cuts a trickling stream (and nothing when it is 0); the rearmable wait
deadline behind the first-byte and idle timeouts fires only while waiting, and only when due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from worker.core.errors import UpstreamTimeout
from worker.core.ir import ChatRequest, Event, Finish, Message, TextDelta, UpstreamEvent, UsageEvent
from worker.routing.deadlines import RequestDeadline, WaitDeadline
from worker.routing.normalize import normalize


async def trickle(count: int, gap: float) -> AsyncIterator[UpstreamEvent]:
    for _ in range(count):
        await asyncio.sleep(gap)
        yield TextDelta("t")


async def test_the_deadline_cuts_a_stream_that_never_goes_idle() -> None:
    seen: list[Event] = []
    with pytest.raises(UpstreamTimeout, match="REQUEST_DEADLINE"):
        async for event in RequestDeadline(0.3).bound(trickle(100, 0.05)):
            seen.append(event)
    assert 2 <= len(seen) <= 7


async def test_zero_is_off_and_passes_the_stream_through() -> None:
    events = trickle(3, 0.0)
    assert RequestDeadline(0).bound(events) is events


async def test_a_stream_within_the_deadline_is_untouched() -> None:
    assert len([e async for e in RequestDeadline(5).bound(trickle(5, 0.01))]) == 5


REQUEST = ChatRequest(model="qwq-32b", messages=(Message(role="user", content="hi"),))


async def paced(gaps: list[float]) -> AsyncIterator[UpstreamEvent]:
    for gap in gaps:
        await asyncio.sleep(gap)
        yield TextDelta("x")


async def test_a_wait_longer_than_the_deadline_is_cancelled_and_reported() -> None:
    deadline = WaitDeadline()
    deadline.arm(0.05)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(1)
    assert deadline.expired() is True
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    deadline.close()


async def test_rearming_moves_the_deadline() -> None:
    deadline = WaitDeadline()
    for _ in range(6):  # 6 x 0.03 s in all, well past one 0.08 s deadline, but never 0.08 s in one wait
        deadline.arm(0.08)
        await asyncio.sleep(0.03)
    deadline.disarm()
    assert deadline.fired is False
    deadline.close()


async def test_time_while_disarmed_does_not_count() -> None:
    deadline = WaitDeadline()
    deadline.arm(0.05)
    deadline.disarm()
    await asyncio.sleep(0.15)  # a slow client, not a silent upstream
    deadline.arm(0.05)
    await asyncio.sleep(0.01)
    deadline.disarm()
    assert deadline.fired is False
    deadline.close()


async def test_a_cancellation_from_elsewhere_is_not_mistaken_for_the_deadline() -> None:
    async def victim() -> bool:
        deadline = WaitDeadline()
        deadline.arm(10)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            assert deadline.expired() is False
            raise
        finally:
            deadline.close()
        return True

    task = asyncio.create_task(victim())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_normalize_reports_a_silent_upstream_by_its_phase() -> None:
    with pytest.raises(UpstreamTimeout, match="before its first event"):
        [e async for e in normalize(paced([1.0]), REQUEST, 0.05, 0.05)]
    with pytest.raises(UpstreamTimeout, match="between two events"):
        [e async for e in normalize(paced([0.0, 1.0]), REQUEST, 0.5, 0.05)]


async def test_normalize_lets_a_steady_stream_and_a_slow_reader_through() -> None:
    seen = []
    async for event in normalize(paced([0.02] * 8), REQUEST, 0.06, 0.06):
        seen.append(event)
        await asyncio.sleep(0.1)  # the reader is slower than the idle timeout: must not count
    assert [type(e) for e in seen] == [TextDelta] * 8 + [Finish, UsageEvent]


async def test_a_shorter_timeout_after_a_long_one_still_fires() -> None:
    """Regression: the first-byte timeout (long) armed the only timer, so a later, shorter idle timeout
    never fired and a stalled stream hung with keep-alives for ever."""
    deadline = WaitDeadline()
    deadline.arm(600)
    deadline.disarm()
    deadline.arm(0.05)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(5)
    assert deadline.expired()
    deadline.close()
