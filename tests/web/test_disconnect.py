"""The disconnect watcher: a client that left cancels the work (499), and a quick answer costs no task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from worker.core.errors import ClientClosed
from worker.web.disconnect import DisconnectGuard


class Client:
    """An ASGI `receive` after the body: waits until the client leaves, counting the calls."""

    def __init__(self, gone: bool = False) -> None:
        self.calls = 0
        self.gone = asyncio.Event()
        if gone:
            self.gone.set()

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        await self.gone.wait()
        return {"type": "http.disconnect"}


async def test_a_quick_answer_never_starts_a_watcher() -> None:
    client = Client()
    before = len(asyncio.all_tasks())
    async with DisconnectGuard(client, after=0.2):
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) == before
    await asyncio.sleep(0.3)  # the timer was cancelled: nothing starts later either
    assert client.calls == 0


async def test_a_client_gone_before_the_watcher_starts_is_still_noticed() -> None:
    client = Client(gone=True)  # left at once: the server keeps the disconnect for the first receive
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ClientClosed):
        async with DisconnectGuard(client, after=0.05):
            await asyncio.sleep(30)  # the upstream that would take long
    assert 0.05 <= loop.time() - started < 5
    assert client.calls == 1


async def test_a_client_leaving_later_cancels_the_work() -> None:
    client = Client()
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, client.gone.set)
    with pytest.raises(ClientClosed):
        async with DisconnectGuard(client, after=0.01):
            await asyncio.sleep(30)


async def test_a_disconnect_after_the_answer_cancels_nothing() -> None:
    client = Client(gone=True)
    async with DisconnectGuard(client, after=0):
        pass  # finished before the watcher's first step: the disconnect it then reads is ignored
    await asyncio.sleep(0.01)
    assert asyncio.current_task() is not None and not asyncio.current_task().cancelling()  # type: ignore[union-attr]
