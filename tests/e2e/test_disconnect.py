"""Abandoned streams leave nothing behind: 200 clients walk away at every stage of a live stream.

Two real gateways (uvicorn) in front of one real simulator server pacing its tokens:
- before the headers: the upstream is still thinking (`slow-start`) and keep-alives are off, so the
  client has received nothing yet;
- while the upstream thinks, after the 200 and some `: keep-alive` comments;
- mid-stream, after a few tokens.
Afterwards the upstream must have seen every request cancelled (none finished, none open), every request
must be logged as 499, and each gateway must be back to its own number of tasks and upstream connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH
from tests.logs import captured_logs
from tests.servers import LiveServer, serving
from worker.introspect import Snapshot, snapshot
from worker.simulator.server import SimulatorServer

PER_STAGE = (66, 67, 67)  # 200 streams in all
THINKING = {"messages": [{"role": "user", "content": "Ponder [sim:slow-start=30]"}], "stream": True}
TALKING = {"messages": [{"role": "user", "content": "Explain at length"}], "stream": True}


@pytest.fixture
def upstream() -> Iterator[LiveServer]:
    with serving(SimulatorServer(token_delay=0.05)) as server:
        yield server


def state_of(gateway: LiveServer) -> Any:
    return gateway.app.app.state.app_state  # create_app(): AccessLogMiddleware -> Starlette -> AppState


def inspect(gateway: LiveServer) -> Snapshot:
    result: Snapshot = gateway.call(snapshot(state_of(gateway)))
    return result


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):  # polling: the conditions live in other threads
        if condition():
            return
        await asyncio.sleep(0.02)


async def abandon_before_headers(client: httpx.AsyncClient, url: str, count: int, upstream: Any) -> None:
    """Requests whose answer has not started: cancel them once the upstream holds every one."""
    first = upstream.stats.received
    tasks = [asyncio.create_task(client.post(url, json=THINKING)) for _ in range(count)]
    await wait_until(lambda: upstream.stats.received - first == count)
    assert not any(t.done() for t in tasks)  # nothing came back: no headers yet
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def read_then_leave(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], marker: bytes, go: asyncio.Event
) -> int:
    """Read until `marker` has been seen three times and `go` is set, then close the connection."""
    async with client.stream("POST", url, json=body) as response:
        seen = b""
        async for piece in response.aiter_bytes():
            seen += piece
            if seen.count(marker) >= 3:
                await go.wait()
                return response.status_code
    raise AssertionError("the stream ended before the client left")


def back_to(now: Snapshot, before: Snapshot) -> bool:
    return now.tasks == before.tasks and now.upstream.busy == 0 and now.upstream.open <= before.upstream.open


async def set_when(condition: Callable[[], bool], event: asyncio.Event) -> None:
    await wait_until(condition)
    event.set()


async def test_200_abandoned_streams_leave_nothing_behind(
    upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    quiet = live_gateway_factory(upstream_url=f"{upstream.url}/v1")
    chatty = live_gateway_factory(upstream_url=f"{upstream.url}/v1", keepalive_interval=0.1)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=AUTH, limits=limits, timeout=10) as client:
        for gateway in (quiet, chatty):  # warm up: one complete stream each, so lazy set-up is done
            r = await client.post(f"{gateway.url}/qwq-32b", json={**TALKING, "max_tokens": 2})
            assert r.text.endswith("data: [DONE]\n\n")
        baseline = {g.url: inspect(g) for g in (quiet, chatty)}
        stats = upstream.app.stats
        stats.received = stats.finished = stats.cancelled = 0

        with captured_logs() as lines:
            await abandon_before_headers(client, f"{quiet.url}/qwq-32b", PER_STAGE[0], upstream.app)
            url = f"{chatty.url}/qwq-32b"
            go = asyncio.Event()  # leave only once the upstream holds every request (none is lost in transit)
            statuses = await asyncio.gather(
                *[read_then_leave(client, url, THINKING, b": keep-alive", go) for _ in range(PER_STAGE[1])],
                *[read_then_leave(client, url, TALKING, b"data: ", go) for _ in range(PER_STAGE[2])],
                set_when(lambda: stats.received == 200, go),
            )
            statuses.pop()
            assert set(statuses) == {200}
            await wait_until(lambda: stats.cancelled == 200 and stats.open == 0)
            await wait_until(lambda: sum(" 499 " in line for line in lines) == 200)

            for gateway in (quiet, chatty):
                before = baseline[gateway.url]
                await wait_until(lambda g=gateway, b=before: back_to(inspect(g), b))  # type: ignore[misc]
                after = inspect(gateway)
                assert after.tasks == baseline[gateway.url].tasks
                assert after.upstream.busy == 0
                assert after.upstream.open <= baseline[gateway.url].upstream.open
            access = [line for line in lines if line.startswith("POST /qwq-32b ")]
            # Every connection the upstream still has is one the gateways keep idle for reuse.
            kept = sum(inspect(g).upstream.open for g in (quiet, chatty))
            await wait_until(lambda: len(upstream.server.server_state.connections) == kept)
            assert len(upstream.server.server_state.connections) == kept

    assert (stats.received, stats.cancelled, stats.finished, stats.open) == (200, 200, 0, 0)
    assert len(access) == 200 and all(" 499 " in line for line in access)
