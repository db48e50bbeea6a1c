"""No request leaves a reference cycle through the gateway's own objects.

Why it matters: an object in a cycle is freed only by the garbage collector, whose passes grow with
the heap and stop the event loop. One cycle per request (a cancelled watcher task holding its
traceback, the traceback its frame, the frame the guard that held the task) once cost ~15% of the CPU
per request under load (profiled under scripts/bench.sh). Reference counting frees an acyclic
request's objects the moment it ends.

How: a real uvicorn gateway in front of a real fake upstream, in this process; the collector saves
what it finds (`DEBUG_SAVEALL`) instead of freeing it, and whatever it found is searched for objects
made by `worker` code: instances of its classes, its functions, and the frames, coroutines and
generators running its code. The client (httpx) makes cycles of its own; those are not ours to judge.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import worker
from tests.conftest import AUTH
from tests.servers import LiveServer

WORKER_DIR = str(Path(worker.__file__).resolve().parent)
CHAT = {"messages": [{"role": "user", "content": "What is an edge gateway?"}]}


@pytest.fixture
def gateway(fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1", upstream_model="Qwen/QwQ-32B")


def _code_of(thing: Any) -> types.CodeType | None:
    for attribute in ("__code__", "cr_code", "ag_code", "gi_code", "f_code"):
        code = getattr(thing, attribute, None)
        if isinstance(code, types.CodeType):
            return code
    return None


def made_by_worker(thing: Any) -> bool:
    code = _code_of(thing)
    if code is not None:
        return code.co_filename.startswith(WORKER_DIR)
    return type(thing).__module__.startswith("worker.") or type(thing).__module__ == "worker"


@pytest.fixture
def saved_garbage() -> Iterator[list[Any]]:
    """What the collector finds unreachable while the test runs, kept for inspection."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[Any] = []
    try:
        yield found
    finally:
        gc.collect()
        found.extend(gc.garbage)
        gc.set_debug(0)
        gc.garbage.clear()


def exercise(gateway: LiveServer) -> None:
    """Every kind of request the hot path serves: answers, streams, other dialects and refusals."""
    with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=10) as client:
        for _ in range(5):
            assert client.post("/qwq-32b", json=CHAT).status_code == 200
            with client.stream("POST", "/qwq-32b", json={**CHAT, "stream": True}) as stream:
                assert stream.status_code == 200
                assert b"[DONE]" in b"".join(stream.iter_bytes())
            openai = {**CHAT, "model": "qwq-32b"}
            assert client.post("/v1/chat/completions", json=openai).status_code == 200
            anthropic = {**CHAT, "model": "qwq-32b", "max_tokens": 64}
            assert client.post("/v1/messages", json=anthropic).status_code == 200
            assert client.post("/qwq-32b", json={"messages": "no"}).status_code == 400
            anonymous = {"Authorization": "Bearer not-a-key"}
            assert client.post("/qwq-32b", json=CHAT, headers=anonymous).status_code == 401


def test_requests_leave_no_cycles_of_gateway_objects(gateway: LiveServer, saved_garbage: list[Any]) -> None:
    exercise(gateway)
    gc.collect()
    ours = [thing for thing in gc.garbage if made_by_worker(thing)]
    names = sorted({getattr(_code_of(t), "co_qualname", type(t).__qualname__) for t in ours})
    assert names == [], f"reference cycles through: {names[:20]}"


def test_the_check_finds_a_cycle_when_there_is_one(saved_garbage: list[Any]) -> None:
    """The detector itself works: a gateway object in a cycle is reported."""
    from worker.web.disconnect import DisconnectGuard

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    guard = DisconnectGuard(receive)
    guard._task = guard  # type: ignore[assignment]  # a cycle: the guard holds itself
    del guard
    gc.collect()
    assert any(isinstance(thing, DisconnectGuard) for thing in gc.garbage)
