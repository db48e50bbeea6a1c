"""Every upstream failure mode, end to end: a real gateway in front of real misbehaving upstreams.

Each test says what the client received, how many attempts each upstream saw, and that nothing was
answered twice (the answer text appears exactly once; a stream has at most one `[DONE]`).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import AUTH, make_settings
from tests.servers import FaultServer, LiveServer, free_port
from worker.config.models import ModelEntry, ModelTable, Target
from worker.routing.router import Router

FAST = {"retry_backoff_base": 0.01, "retry_backoff_cap": 0.05, "breaker_failures": 0}
ASK = {"messages": [{"role": "user", "content": "Say hello"}]}
A = "Answer from upstream A."
B = "Answer from upstream B."

Gateways = Callable[..., LiveServer]


@pytest.fixture
def upstreams() -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(script: list[str], answer: str = A, retry_after: str = "0") -> LiveServer:
        server = LiveServer(FaultServer(script, answer, retry_after))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def target_toml(url: str, **fields: Any) -> str:
    lines = [
        "[[models.qwq-32b.targets]]",
        'adapter = "openai"',
        f'base_url = "{url}/v1"',
        'model = "Qwen/QwQ-32B"',
    ]
    lines += [f"{k} = {orjson.dumps(v).decode()}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def routed(tmp_path: Path, live_gateway_factory: Gateways) -> Gateways:
    """A live gateway whose `qwq-32b` targets are the given upstream URLs (with per-target fields)."""

    def start(
        *targets: str | tuple[str, dict[str, Any]], strategy: str = "failover", **settings: Any
    ) -> LiveServer:
        text = f'[models.qwq-32b]\nstrategy = "{strategy}"\n'
        for t in targets:
            url, fields = (t, {}) if isinstance(t, str) else t
            text += target_toml(url, **fields)
        path = tmp_path / f"models-{free_port()}.toml"
        path.write_text(text)
        return live_gateway_factory(models_file=str(path), **{**FAST, **settings})

    return start


def ask(gateway: LiveServer, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{gateway.url}/qwq-32b", json=body or ASK, headers=AUTH, timeout=15)


def ask_stream(gateway: LiveServer) -> tuple[int, list[dict[str, Any]], str]:
    """Status, decoded data events (without [DONE]) and the raw text of a streamed answer."""
    body = {**ASK, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=15) as r:
        raw = r.read().decode()
    events = [
        orjson.loads(line[6:])
        for line in raw.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    return r.status_code, events, raw


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(e.get("response", "") for e in events)


def readiness(gateway: LiveServer) -> tuple[int, dict[str, Any]]:
    r = httpx.get(f"{gateway.url}/readyz", timeout=5)
    return r.status_code, r.json()


def target_view(gateway: LiveServer, index: int) -> dict[str, Any]:
    return dict(readiness(gateway)[1]["models"]["qwq-32b"]["targets"][index])


def test_refused_connection_is_retried_then_fails_over(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    b = upstreams(["ok"], B)
    gateway = routed(f"http://127.0.0.1:{free_port()}", b.url, retry_attempts=2)
    r = ask(gateway)
    assert r.status_code == 200 and r.json()["response"] == B
    assert b.app.attempts == 1
    refused = target_view(gateway, 0)
    assert refused["attempts"] == 3 and refused["failures"] == 3


def test_reset_mid_body_is_retried(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["reset", "ok"])
    r = ask(routed(a.url))
    assert r.status_code == 200 and r.json()["response"] == A
    assert a.app.attempts == 2


def test_slow_headers_time_out_per_target_and_are_retried(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["slow:5", "ok"])
    r = ask(routed((a.url, {"first_byte_timeout": 0.5})))
    assert r.status_code == 200 and r.json()["response"] == A
    assert a.app.attempts == 2


def test_stall_before_the_first_event_is_retried(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["stall", "ok"])
    status, events, raw = ask_stream(routed(a.url, upstream_first_byte_timeout=0.5))
    assert status == 200 and streamed_text(events) == A
    assert raw.count("data: [DONE]") == 1
    assert a.app.attempts == 2


def test_stall_after_the_first_event_ends_the_stream_and_is_never_retried(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["stall-late", "ok"])
    b = upstreams(["ok"], B)
    status, events, raw = ask_stream(routed(a.url, b.url, upstream_idle_timeout=0.5))
    assert status == 200
    assert "error" in events[-1] and "data: [DONE]" not in raw
    text = streamed_text(events)
    assert text and A.startswith(text) and text != A  # a part of A, once, and nothing of B
    assert a.app.attempts == 1 and b.app.attempts == 0


def test_429_waits_for_retry_after(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["429", "ok"], retry_after="1")
    started = time.monotonic()
    r = ask(routed(a.url))
    assert r.status_code == 200 and r.json()["response"] == A
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured, not the 10 ms backoff
    assert a.app.attempts == 2


def test_429_with_a_too_long_retry_after_fails_over_then_passes_it_on(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["429"], retry_after="120")
    b = upstreams(["429"], B, retry_after="120")
    r = ask(routed(a.url, b.url, retry_after_max=5))
    assert r.status_code == 429 and r.headers["retry-after"] == "120"
    assert a.app.attempts == 1 and b.app.attempts == 1


def test_500s_exhaust_the_retries(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["500"])
    r = ask(routed(a.url, retry_attempts=2))
    assert r.status_code == 500 and "answered 500" in r.json()["error"]
    assert a.app.attempts == 3


def test_500s_fail_over_to_the_next_target(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["500"])
    b = upstreams(["ok"], B)
    status, events, raw = ask_stream(routed(a.url, b.url, retry_attempts=1))
    assert status == 200 and streamed_text(events) == B and raw.count("data: [DONE]") == 1
    assert A not in raw
    assert a.app.attempts == 2 and b.app.attempts == 1


def test_wrong_shape_fails_over_without_retrying(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["shape"])
    b = upstreams(["ok"], B)
    r = ask(routed(a.url, b.url, retry_attempts=3))
    assert r.status_code == 200 and r.json()["response"] == B
    assert a.app.attempts == 1 and b.app.attempts == 1


def test_wrong_shape_everywhere_is_a_500_not_an_empty_success(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["shape"])
    r = ask(routed(a.url))
    assert r.status_code == 500 and "without 'choices'" in r.json()["error"]
    assert a.app.attempts == 1


def test_stream_cut_before_any_content_is_retried(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["cut", "ok"])
    status, events, raw = ask_stream(routed(a.url))
    assert status == 200 and streamed_text(events) == A and raw.count("data: [DONE]") == 1
    assert a.app.attempts == 2


def test_stream_cut_after_content_is_an_error_event(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["cut-late", "ok"])
    status, events, raw = ask_stream(routed(a.url))
    assert status == 200 and "error" in events[-1] and "data: [DONE]" not in raw
    assert "cut short" in events[-1]["error"] or "finished" in events[-1]["error"]
    assert A.startswith(streamed_text(events)) and a.app.attempts == 1


def test_client_errors_are_not_retried(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["ok"])
    r = ask(routed(a.url), {"messages": "not a list"})
    assert r.status_code == 400 and a.app.attempts == 0


def test_deadline_caps_the_whole_retry_loop(upstreams: Callable[..., LiveServer], routed: Gateways) -> None:
    a = upstreams(["slow:10"])
    started = time.monotonic()
    r = ask(routed(a.url, request_deadline=1, retry_attempts=5))
    assert r.status_code in (500, 504) and r.json()["error"].startswith(
        ("No upstream", "The upstream", "The request")
    )
    assert time.monotonic() - started < 5
    assert a.app.attempts == 1


def test_circuit_breaker_opens_probes_and_closes(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["500", "500", "ok"])
    b = upstreams(["ok"], B)
    gateway = routed(a.url, b.url, retry_attempts=0, breaker_failures=2, breaker_cooldown=2)
    assert [ask(gateway).json()["response"] for _ in range(2)] == [B, B]
    assert a.app.attempts == 2
    status, ready = readiness(gateway)
    first = ready["models"]["qwq-32b"]["targets"][0]
    assert status == 200 and first["state"] == "open" and first["consecutive_failures"] == 2
    assert ask(gateway).json()["response"] == B
    assert a.app.attempts == 2  # open: not even tried
    time.sleep(2.1)
    assert target_view(gateway, 0)["state"] == "half_open"
    assert ask(gateway).json()["response"] == A  # the probe went through and succeeded
    assert a.app.attempts == 3 and target_view(gateway, 0)["state"] == "closed"


def test_readyz_is_503_when_a_model_has_no_usable_target(
    upstreams: Callable[..., LiveServer], routed: Gateways
) -> None:
    a = upstreams(["500"])
    gateway = routed(a.url, retry_attempts=0, breaker_failures=1, breaker_cooldown=60)
    assert readiness(gateway)[0] == 200
    assert ask(gateway).status_code == 500
    status, ready = readiness(gateway)
    assert status == 503 and ready["status"] == "unavailable"
    assert ready["models"]["qwq-32b"]["targets"][0]["state"] == "open"
    r = ask(gateway)  # answered at once, without bothering the failing upstream
    assert r.status_code == 500 and "failing" in r.json()["error"] and int(r.headers["retry-after"]) >= 1
    assert a.app.attempts == 1
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200  # alive, just not ready


def test_key_rotation_least_recently_used_with_rests(
    upstreams: Callable[..., LiveServer], routed: Gateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTING_TEST_KEYS", "key-one,key-two,key-three")
    a = upstreams(["401", "ok"])
    gateway = routed((a.url, {"api_keys_env": "ROUTING_TEST_KEYS"}), key_cooldown=60)
    for _ in range(3):
        assert ask(gateway).json()["response"] == A
    sent = [h.removeprefix("Bearer ") for h in a.app.authorizations]
    # key-one is refused and rests; the others take turns, least recently used first.
    assert sent == ["key-one", "key-two", "key-three", "key-two"]
    view = target_view(gateway, 0)
    assert view["keys"] == 3 and view["keys_resting"] == 1
    assert "key-" not in httpx.get(f"{gateway.url}/readyz").text


def test_rate_limited_key_rests_and_the_next_goes_at_once(
    upstreams: Callable[..., LiveServer], routed: Gateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTING_TEST_KEYS", "key-one,key-two")
    a = upstreams(["429", "ok"], retry_after="30")
    gateway = routed((a.url, {"api_keys_env": "ROUTING_TEST_KEYS"}))
    assert ask(gateway).json()["response"] == A
    assert [h.removeprefix("Bearer ") for h in a.app.authorizations] == ["key-one", "key-two"]


def test_no_secret_reaches_readyz_or_errors(
    upstreams: Callable[..., LiveServer], routed: Gateways, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTING_TEST_KEY", "sk-very-secret")
    a = upstreams(["401"])
    gateway = routed((a.url.replace("http://", "http://user:pw@"), {"api_key_env": "ROUTING_TEST_KEY"}))
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("worker").addHandler(handler)
    try:
        r = ask(gateway)
    finally:
        logging.getLogger("worker").removeHandler(handler)
    assert any("given up" in line for line in lines)
    assert not any("sk-very-secret" in line or "pw@" in line for line in lines)
    assert r.status_code == 500 and "credentials" in r.json()["error"]
    text = httpx.get(f"{gateway.url}/readyz").text + r.text
    assert "sk-very-secret" not in text and "pw" not in text and "/v1" not in text


def test_weighted_strategy_draws_the_first_target_by_weight() -> None:
    targets = (
        Target("simulator", model="a", weight=3.0),
        Target("simulator", model="b", weight=1.0),
        Target("simulator", model="c", weight=0.0),
    )
    weighted = ModelEntry("m", targets, strategy="weighted")
    gateway = Router(make_settings(), {}, ModelTable({"m": weighted}), rng=random.Random(7))
    firsts = Counter(gateway.plan(weighted)[0].target.model for _ in range(2000))
    assert firsts["c"] == 0 and 1300 < firsts["a"] < 1700 and firsts["a"] + firsts["b"] == 2000
    assert {s.target.model for s in gateway.plan(weighted)} == {"a", "b", "c"}  # the rest follow
    ordered = ModelEntry("o", targets)
    assert [s.target.model for s in gateway.plan(ordered)] == ["a", "b", "c"]


def test_plan_leaves_out_open_targets() -> None:
    entry = ModelEntry("m", (Target("simulator", model="a"), Target("simulator", model="b")))
    gateway = Router(make_settings(breaker_failures=1, breaker_cooldown=60), {}, ModelTable({"m": entry}))
    gateway.states(entry)[0].breaker.record_failure()
    assert [s.target.model for s in gateway.plan(entry)] == ["b"]
    assert gateway.health()["m"]["ready"] is True
    gateway.states(entry)[1].breaker.record_failure()
    assert gateway.plan(entry) == [] and gateway.health()["m"]["ready"] is False


async def test_health_endpoints_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"} and "/healthz" in paths
    r = await client.get("/readyz")
    target = r.json()["models"]["qwq-32b"]["targets"][0]
    assert r.status_code == 200 and target["adapter"] == "simulator" and target["state"] == "closed"
