"""Streaming end to end: a real gateway (uvicorn) in front of the simulator as a real upstream server.

Both answer shapes, usage always last (estimated and flagged when the upstream sends none), the same
text and usage streamed or not, errors before and after the first byte, keep-alives while the upstream
thinks, and each timeout (first byte, idle, overall deadline) on a live stream.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import AUTH
from tests.logs import captured_logs
from tests.servers import LiveServer, serving
from worker.simulator.server import SimulatorServer

Frames = list[Any]


def open_stream(gateway: LiveServer, body: dict[str, Any], shape: str = "workers") -> httpx.Response:
    payload = {**body, "stream": True}
    url = f"{gateway.url}/qwq-32b?shape={shape}"
    return httpx.post(url, json=payload, headers=AUTH, timeout=15)


def frames(text: str) -> tuple[Frames, int]:
    """Data frames (JSON, or the string "[DONE]") and the number of comment frames."""
    out: Frames = []
    comments = 0
    for block in text.split("\n\n")[:-1]:
        if block.startswith(":"):
            comments += 1
            continue
        assert block.startswith("data: "), block
        data = block.removeprefix("data: ")
        out.append(data if data == "[DONE]" else orjson.loads(data))
    return out, comments


def ask(content: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], "seed": 11, **extra}


@pytest.fixture
def gateway_to(live_gateway_factory: Callable[..., LiveServer]) -> Callable[..., LiveServer]:
    def start(upstream: LiveServer, **settings: Any) -> LiveServer:
        return live_gateway_factory(upstream_url=f"{upstream.url}/v1", **settings)

    return start


@pytest.fixture
def slow_upstream() -> Iterator[LiveServer]:
    """The simulator pacing its tokens 50 ms apart: slow, but flowing."""
    with serving(SimulatorServer(token_delay=0.05)) as server:
        yield server


def test_workers_shape(fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]) -> None:
    r = open_stream(gateway_to(fake_upstream), ask("Hello"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    out, _ = frames(r.text)
    assert out[-1] == "[DONE]"
    assert all(set(f) == {"response"} for f in out[:-2])
    assert len(out) > 10  # one event per upstream delta, not one lump
    usage = out[-2]["usage"]
    assert out[-2]["response"] == "" and usage["total_tokens"] > 0 and "estimated" not in usage


def test_choices_shape(fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]) -> None:
    r = open_stream(gateway_to(fake_upstream), ask("Hello"), shape="choices")
    out, _ = frames(r.text)
    chunks = out[:-1]
    assert out[-1] == "[DONE]"
    assert len({c["id"] for c in chunks}) == 1 and {c["model"] for c in chunks} == {"qwq-32b"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("shape", ["workers", "choices"])
def test_usage_is_estimated_and_flagged_when_the_upstream_omits_it(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer], shape: str
) -> None:
    r = open_stream(gateway_to(fake_upstream), ask("Hi [sim:no-usage]"), shape=shape)
    out, _ = frames(r.text)
    assert out[-1] == "[DONE]"
    usage = out[-2]["usage"]
    assert usage["estimated"] is True and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert fake_upstream.app.stats.bodies[-1]["stream_options"] == {"include_usage": True}


def joined(out: Frames, shape: str) -> str:
    if shape == "workers":
        return "".join(f["response"] for f in out if isinstance(f, dict))
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in out[:-2])


@pytest.mark.parametrize("shape", ["workers", "choices"])
@pytest.mark.parametrize("reasoning_field", [False, True])
def test_streamed_and_whole_answers_agree(
    live_gateway_factory: Callable[..., LiveServer], shape: str, reasoning_field: bool
) -> None:
    """Same request, fixed seed: the same text and usage whether streamed or not, for inline reasoning
    (Workers AI) and for reasoning handed out as a separate field (vLLM)."""
    with serving(SimulatorServer(reasoning_field=reasoning_field)) as upstream:
        gateway = live_gateway_factory(upstream_url=f"{upstream.url}/v1")
        body = ask("Compare two edge gateways", max_tokens=200)
        whole = httpx.post(f"{gateway.url}/qwq-32b?shape={shape}", json=body, headers=AUTH).json()
        out, _ = frames(open_stream(gateway, body, shape).text)
    usage = out[-2]["usage"]
    if shape == "workers":
        assert joined(out, shape) == whole["response"]
    else:
        assert joined(out, shape) == whole["choices"][0]["message"]["content"]
        assert out[-3]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert "</think>" in joined(out, shape)
    assert usage == whole["usage"]


def test_streamed_and_whole_tool_calls_agree(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    gateway = gateway_to(fake_upstream)
    city = {"type": "string", "description": "City name"}
    parameters = {"type": "object", "properties": {"city": city}, "required": ["city"]}
    tool = {"name": "get_weather", "description": "Current weather", "parameters": parameters}
    body = ask("Weather in Oslo?", tools=[tool])
    whole = httpx.post(f"{gateway.url}/qwq-32b?shape=choices", json=body, headers=AUTH).json()
    out, _ = frames(open_stream(gateway, body, "choices").text)
    calls: dict[int, dict[str, str]] = {}
    for c in out[:-2]:
        for call in c["choices"][0]["delta"].get("tool_calls", ()):
            entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
            entry["name"] += call["function"].get("name") or ""
            entry["arguments"] += call["function"]["arguments"]
    expected = whole["choices"][0]["message"]["tool_calls"]
    assert [calls[i] for i in sorted(calls)] == [
        {"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in expected
    ]
    assert out[-3]["choices"][0]["finish_reason"] == "tool_calls" == whole["choices"][0]["finish_reason"]
    assert out[-2]["usage"] == whole["usage"]


def test_failure_before_the_first_byte_is_a_json_error(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    r = open_stream(gateway_to(fake_upstream), ask("Hi [sim:error-503]"))
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert "answered 503" in r.json()["error"]


@pytest.mark.parametrize("shape", ["workers", "choices"])
def test_failure_after_the_first_byte_is_an_error_event_and_logged(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer], shape: str
) -> None:
    gateway = gateway_to(fake_upstream)
    with captured_logs() as lines:
        r = open_stream(gateway, ask("Hi [sim:disconnect]"), shape)
        out, _ = frames(r.text)
        time.sleep(0.1)
    assert r.status_code == 200 and len(out) > 3
    assert "[DONE]" not in out
    assert set(out[-1]) == {"error", "detail"} and out[-1]["detail"]["code"] == "upstream_error"
    assert any("failed after its first byte: upstream_error" in line for line in lines)
    assert any(line.startswith("POST /qwq-32b 500 ") for line in lines)


def test_keepalives_while_the_upstream_thinks(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    gateway = gateway_to(fake_upstream, keepalive_interval=0.2)
    r = open_stream(gateway, ask("Hi [sim:slow-start=1]"))
    assert r.status_code == 200 and r.text.startswith(": keep-alive\n\n")
    out, comments = frames(r.text)
    assert 3 <= comments <= 6
    assert out[-1] == "[DONE]" and "usage" in out[-2]


def test_stall_mid_stream_hits_the_idle_timeout_with_keepalives_meanwhile(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    gateway = gateway_to(fake_upstream, keepalive_interval=0.2, upstream_idle_timeout=1)
    started = time.monotonic()
    out, comments = frames(open_stream(gateway, ask("Hi [sim:stall]")).text)
    assert time.monotonic() - started < 5
    assert comments >= 3 and len(out) > 3
    assert out[-1]["detail"]["code"] == "upstream_timeout" and "between two events" in out[-1]["error"]


def test_slow_but_flowing_reasoning_is_never_idle(
    slow_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    """30 tokens 50 ms apart (1.5 s in all) under a 0.4 s idle timeout: it must complete."""
    gateway = gateway_to(slow_upstream, upstream_idle_timeout=0.4, upstream_first_byte_timeout=0.4)
    out, _ = frames(open_stream(gateway, ask("Think slowly", max_tokens=30)).text)
    assert out[-1] == "[DONE]" and out[-2]["usage"]["completion_tokens"] == 30


def test_first_byte_timeout_before_the_stream_starts(
    fake_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    r = open_stream(gateway_to(fake_upstream, upstream_first_byte_timeout=0.5), ask("Hi [sim:slow-start=5]"))
    assert r.status_code == 500 and "before its first event" in r.json()["error"]


def test_request_deadline_ends_a_healthy_but_long_stream(
    slow_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    r = open_stream(gateway_to(slow_upstream, request_deadline=0.6), ask("Think at length"))
    out, _ = frames(r.text)
    assert r.status_code == 200 and "[DONE]" not in out
    assert out[-1]["detail"]["code"] == "upstream_timeout" and "REQUEST_DEADLINE" in out[-1]["error"]


def test_request_deadline_applies_to_whole_answers_too(
    slow_upstream: LiveServer, gateway_to: Callable[..., LiveServer]
) -> None:
    gateway = gateway_to(slow_upstream, request_deadline=0.3)
    r = httpx.post(f"{gateway.url}/qwq-32b", json=ask("[sim:slow-start=3]"), headers=AUTH, timeout=10)
    assert r.status_code == 500 and "REQUEST_DEADLINE" in r.json()["error"]


def test_connect_timeout(live_gateway_factory: Callable[..., LiveServer]) -> None:
    """An upstream whose accept queue is full never completes the TCP handshake: the connect times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            gateway = live_gateway_factory(
                upstream_url=f"http://127.0.0.1:{port}/v1", upstream_connect_timeout=0.3
            )
            started = time.monotonic()
            r = open_stream(gateway, ask("Hello"))
            assert time.monotonic() - started < 5
        finally:
            for filler in fillers:
                filler.close()
    assert r.status_code == 500 and "ConnectTimeout" in r.json()["error"]
