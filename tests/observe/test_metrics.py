"""`GET /metrics`: what each request, attempt and stream adds, as Prometheus text `promtool` accepts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from tests.observe.scrape import total, value
from tests.servers import FaultServer, LiveServer, serving
from worker.app import create_app
from worker.core.ir import Usage
from worker.core.outcome import RequestRecord
from worker.observe import hooks
from worker.observe.metrics import Metrics
from worker.state import build_state

ASK = {"messages": [{"role": "user", "content": "Say hello"}]}
CHAT = {"model": "qwq-32b", **ASK}


async def scrape(client: httpx.AsyncClient, **headers: str) -> str:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_requests_tokens_cost_and_latency_are_counted(client: httpx.AsyncClient) -> None:
    answers = [(await client.post("/qwq-32b", json=ASK, headers=AUTH)).json() for _ in range(2)]
    stream = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=AUTH)
    assert stream.status_code == 200
    assert (await client.post("/qwq-32b", json=ASK)).status_code == 401
    page = await scrape(client)

    assert value(page, "qwq_gateway_requests_total", surface="workers", model="qwq-32b", status="200") == 2
    assert value(page, "qwq_gateway_requests_total", surface="openai", model="qwq-32b", status="200") == 1
    # Refused before the body named a model: counted under its surface, with no model.
    assert value(page, "qwq_gateway_requests_total", surface="workers", model="none", status="401") == 1
    assert total(page, "gen_ai_server_request_duration_seconds_count", model="qwq-32b") == 3
    assert total(page, "gen_ai_server_time_to_first_token_seconds_count", model="qwq-32b") == 3
    assert total(page, "qwq_gateway_overhead_seconds_count") == 3
    assert value(page, "qwq_gateway_upstream_attempts_total", target="qwq-32b#1", outcome="ok") == 3
    assert value(page, "qwq_gateway_open_streams") == 0
    assert value(page, "qwq_gateway_breaker_state", target="qwq-32b#1") == 0

    prompt = sum(a["usage"]["prompt_tokens"] for a in answers)
    completion = sum(a["usage"]["completion_tokens"] for a in answers)
    assert prompt > 0 and completion > 0
    counted_in = value(page, "gen_ai_client_token_usage_sum", model="qwq-32b", token_type="input")
    counted_out = value(page, "gen_ai_client_token_usage_sum", model="qwq-32b", token_type="output")
    assert value(page, "gen_ai_client_token_usage_count", model="qwq-32b", token_type="input") == 3
    # The stream's own usage adds to the two plain answers' (the simulator answers alike each time).
    assert counted_in == pytest.approx(prompt * 3 / 2) and counted_out == pytest.approx(completion * 3 / 2)
    cost = value(page, "qwq_gateway_cost_usd_total", model="qwq-32b")
    assert cost == pytest.approx((counted_in * 0.66 + counted_out * 1.00) / 1_000_000)  # the built-in prices
    assert value(page, "qwq_gateway_reasoning_tokens_total", model="qwq-32b") > 0


def promtool(page: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "check", "metrics"], input=page, capture_output=True, text=True, timeout=30
    )


async def test_promtool_accepts_the_page(client: httpx.AsyncClient) -> None:
    await client.post("/qwq-32b", json=ASK, headers=AUTH)
    await client.post("/v1/messages", json={**CHAT, "max_tokens": 50}, headers=AUTH)
    hooks.limit_rejected("requests")
    checked = promtool(await scrape(client))
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr
    bad = promtool("# TYPE requests counter\nrequests 1\n")  # the check itself can fail
    assert bad.returncode != 0


async def test_the_hooks_for_limits_and_the_usage_queue_count(client: httpx.AsyncClient) -> None:
    hooks.usage_dropped(3)
    hooks.limit_rejected("tokens")
    hooks.limit_rejected("tokens")
    hooks.budget_rejected()
    page = await scrape(client)
    assert value(page, "qwq_gateway_usage_dropped_total") == 3
    assert value(page, "qwq_gateway_rate_limited_total", limit="tokens") == 2
    assert value(page, "qwq_gateway_budget_rejections_total") == 1


async def test_metrics_key_guards_the_page() -> None:
    app = create_app(make_settings(metrics_key="scrape-secret"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        assert (await c.get("/metrics")).status_code == 401
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        # The client API key is not the metrics key.
        assert (await c.get("/metrics", headers=AUTH)).status_code == 401
        assert "qwq_gateway_requests_total" in await scrape(c, authorization="Bearer scrape-secret")


async def test_metrics_off_serve_nothing_and_count_nothing() -> None:
    app = create_app(make_settings(metrics=0))
    state = app.app.state.app_state
    # Only the store's sinks (usage accounting, limit settlement) hear of requests: no metrics sink.
    assert state.sinks == [state.recorder, state.gate] and state.router.observers == []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        assert (await c.get("/metrics")).status_code == 404
        assert (await c.post("/qwq-32b", json=ASK, headers=AUTH)).status_code == 200


def test_failed_attempts_are_counted_by_target_and_outcome(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    with serving(FaultServer(["500", "ok"])) as upstream:
        gateway = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1", retry_backoff_base=0.01, retry_backoff_cap=0.02
        )
        r = httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=AUTH, timeout=15)
        assert r.status_code == 200
        page = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    attempts = "qwq_gateway_upstream_attempts_total"
    assert value(page, attempts, target="qwq-32b#1", outcome="upstream_error") == 1
    assert value(page, attempts, target="qwq-32b#1", outcome="ok") == 1
    assert total(page, "gen_ai_client_operation_duration_seconds_count", target="qwq-32b#1") == 2
    assert value(page, "qwq_gateway_requests_total", surface="workers", model="qwq-32b", status="200") == 1
    assert promtool(page).returncode == 0


def test_an_open_stream_is_counted_while_it_flows(live_gateway_factory: Callable[..., LiveServer]) -> None:
    gateway = live_gateway_factory(simulator_token_delay=0.05)
    body = {**ASK, "stream": True}
    seen: dict[str, float] = {}
    with httpx.stream("POST", f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=30) as r:
        chunks = r.iter_bytes()
        next(chunks)  # the stream is open: its first event has arrived
        seen["during"] = value(httpx.get(f"{gateway.url}/metrics").text, "qwq_gateway_open_streams")
        for _ in chunks:
            pass
    seen["after"] = value(httpx.get(f"{gateway.url}/metrics").text, "qwq_gateway_open_streams")
    assert seen == {"during": 1, "after": 0}


def record(**fields: Any) -> RequestRecord:
    rec = RequestRecord("id", "POST", "/qwq-32b", surface="workers", model="qwq-32b", status=200)
    for name, field_value in fields.items():
        setattr(rec, name, field_value)
    return rec


def page_of(metrics: Metrics) -> str:
    return metrics.render().decode()


def test_key_ids_are_labels_only_when_the_setting_asks() -> None:
    state = build_state(make_settings())
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=2_000_000)
    plain = Metrics(state.table, state.router.health)
    plain.sink(record(key_id="team-a", usage=usage, target="qwq-32b#1"))
    assert "team-a" not in page_of(plain) and "qwq_gateway_key_" not in page_of(plain)

    keyed = Metrics(state.table, state.router.health, per_key=True)
    keyed.sink(record(key_id="team-a", usage=usage, target="qwq-32b#1"))
    keyed.sink(record(key_id="team-a", status=429))
    page = page_of(keyed)
    assert value(page, "qwq_gateway_key_requests_total", key_id="team-a", status="200") == 1
    assert value(page, "qwq_gateway_key_requests_total", key_id="team-a", status="429") == 1
    assert value(page, "qwq_gateway_key_tokens_total", key_id="team-a", token_type="output") == 2_000_000
    assert value(page, "qwq_gateway_key_cost_usd_total", key_id="team-a") == pytest.approx(0.66 + 2.00)


def test_a_breaker_that_opened_shows_on_the_next_scrape(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    with serving(FaultServer(["500"])) as upstream:
        gateway = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1", retry_attempts=0, breaker_failures=1, breaker_cooldown=60
        )
        assert httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=AUTH, timeout=15).status_code >= 500
        page = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    assert value(page, "qwq_gateway_breaker_state", target="qwq-32b#1") == 2


async def test_without_prometheus_client_the_gateway_serves_uncounted(
    monkeypatch: pytest.MonkeyPatch, log_lines: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "worker.observe.metrics", None)  # as in a bundle without it
    app = create_app(make_settings())
    assert any("prometheus-client is missing" in line for line in log_lines)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        assert (await c.post("/qwq-32b", json=ASK, headers=AUTH)).status_code == 200
        assert (await c.get("/metrics")).status_code == 404
