"""The Cloudflare Worker entry point, driven as the Python Workers runtime drives it: the `workers` and
`asgi` modules it provides are fakes here, and `asgi.fetch` does what the runtime's does, the ASGI
lifespan around every request (start-up, the request, shut-down)."""

from __future__ import annotations

import asyncio
import importlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.upstreams.workers_runtime import Env, FakeAI
from worker.state import AppState

KEY = "worker-secret-key"
ANSWER = {"response": "From the binding.", "usage": {"prompt_tokens": 2, "completion_tokens": 4}}


@dataclass
class JsRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Request:
    """What `fetch` receives: a Python wrapper whose `js_object` is the JavaScript Request."""

    js_object: JsRequest


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Lifespan:
    """One ASGI lifespan of the app, as the runtime runs it around a request."""

    def __init__(self, app: Any) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[str] = []
        self.task = asyncio.ensure_future(
            app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, self.inbox.get, self._send)
        )

    async def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message["type"])

    async def phase(self, name: str) -> None:
        await self.inbox.put({"type": f"lifespan.{name}"})
        while f"lifespan.{name}.complete" not in self.sent:
            assert not self.task.done(), self.task.exception() if not self.task.cancelled() else "cancelled"
            await asyncio.sleep(0.001)


async def fake_fetch(app: Any, request: JsRequest, env: Any, ctx: Any) -> Response:
    """The runtime's `asgi.fetch`: lifespan start-up, the request, lifespan shut-down, every time."""
    lifespan = Lifespan(app)
    await lifespan.phase("startup")
    received = False
    status, headers, chunks = 0, {}, []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "https",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
        "client": None,
        "server": ("gateway.example.workers.dev", 443),
    }
    await app(scope, receive, send)
    await lifespan.phase("shutdown")
    await lifespan.task
    return Response(status, headers, b"".join(chunks))


class WorkerEntrypoint:
    """The runtime's base class: it sets `env` and `ctx` and calls `fetch(request)`."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


@pytest.fixture
def entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    monkeypatch.setitem(sys.modules, "workers", types.SimpleNamespace(WorkerEntrypoint=WorkerEntrypoint))
    monkeypatch.setitem(sys.modules, "asgi", types.SimpleNamespace(fetch=fake_fetch))
    monkeypatch.delitem(sys.modules, "worker.entry", raising=False)
    module = importlib.import_module("worker.entry")
    yield module
    sys.modules.pop("worker.entry", None)


def post(body: dict[str, Any], key: str = KEY) -> Request:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    return Request(JsRequest("POST", "/qwq-32b", headers, orjson.dumps(body)))


async def test_the_app_and_its_state_are_built_once_per_isolate(
    entry: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[AppState] = []

    async def record_close(self: AppState) -> None:
        closed.append(self)

    monkeypatch.setattr(AppState, "aclose", record_close)
    ai = FakeAI([ANSWER])
    env = Env(API_KEYS=KEY, AI=ai)
    worker = entry.Default(object(), env)
    first = await worker.fetch(post({"prompt": "one"}))
    # A new entrypoint instance per request, as the runtime makes them: the same app.
    second = await entry.Default(object(), env).fetch(post({"prompt": "two"}))
    assert closed == [], "the runtime's per-request lifespan shut-down must not close the upstreams"
    assert (first.status, second.status) == (200, 200), (first.body, second.body)
    assert orjson.loads(second.body)["response"] == "From the binding."
    assert entry.isolate_app(env) is entry.isolate_app(Env())
    assert [inputs["messages"][-1]["content"] for _, inputs in ai.calls] == ["one", "two"]


async def test_settings_come_from_env_as_the_runtime_types_them(entry: types.ModuleType) -> None:
    # [vars] numbers arrive as JavaScript numbers (int, float), secrets as strings.
    env = Env(API_KEYS=KEY, MAX_BODY_BYTES=64, KEEPALIVE_INTERVAL=15, AI=FakeAI([ANSWER]))
    worker = entry.Default(object(), env)
    refused = await worker.fetch(post({"prompt": "hi"}, key="someone-else"))
    too_big = await worker.fetch(post({"prompt": "x" * 200}))
    assert refused.status == 401
    assert too_big.status == 413
    settings = entry.isolate_app(env).app.app.state.app_state.settings
    assert settings.max_body_bytes == 64 and settings.keepalive_interval == 15.0


async def test_without_a_binding_the_simulator_answers(entry: types.ModuleType) -> None:
    env = Env(API_KEYS=KEY)
    answer = await entry.Default(object(), env).fetch(post({"prompt": "hi"}))
    assert answer.status == 200 and orjson.loads(answer.body)["response"]
    state = entry.isolate_app(env).app.app.state.app_state
    assert state.table.entries["qwq-32b"].primary.adapter == "simulator"
