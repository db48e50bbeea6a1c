"""Reading a request's body: the whole of it, 413 past the limit, 408 when it does not arrive in time,
and a cancellation from elsewhere (the server, a client that left) left as it is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from worker.core.errors import PayloadTooLarge, RequestTimeout
from worker.web.asgi import read_body

SCOPE: dict[str, Any] = {"headers": [(b"content-length", b"6")]}


def chunks(*parts: bytes, then_wait: bool = False) -> Any:
    pending = list(parts)

    async def receive() -> dict[str, Any]:
        if pending:
            part = pending.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(pending) or then_wait}
        await asyncio.sleep(30)  # a client that stopped sending
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def test_the_whole_body_within_the_time() -> None:
    assert await read_body(SCOPE, chunks(b"abc", b"def"), 100, within=5) == b"abcdef"
    assert await read_body(SCOPE, chunks(b"abcdef"), 100, within=0) == b"abcdef"


async def test_past_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body({"headers": []}, chunks(b"abc", b"def"), 4, within=5)


async def test_a_body_that_stops_arriving_is_408_in_time() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RequestTimeout):
        await read_body(SCOPE, chunks(b"abc", then_wait=True), 100, within=0.05)
    assert loop.time() - started < 5
    await asyncio.sleep(0.01)  # nothing of the timer is left to cancel this task later
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    reader = asyncio.create_task(read_body(SCOPE, chunks(b"abc", then_wait=True), 100, within=5))
    await asyncio.sleep(0.01)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
