"""Each finished request reaches the sinks as one record, filled in by the endpoint, router and middleware.

Live gateways on real sockets; the sink is a list the test reads once the answer has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH
from tests.e2e_helpers import gateway_with_table
from tests.servers import FaultServer, LiveServer, serving
from worker.core.outcome import RequestRecord


def listen(gateway: LiveServer) -> list[RequestRecord]:
    records: list[RequestRecord] = []
    gateway.app.sinks.append(records.append)
    return records


def wait_for(records: list[RequestRecord], count: int) -> list[RequestRecord]:
    deadline = time.monotonic() + 5
    while len(records) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return records


def test_a_plain_answer_is_recorded_with_its_model_target_and_usage(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()
    records = listen(gateway)
    answer = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "Hello"}, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    (record,) = wait_for(records, 1)
    assert (record.method, record.path, record.surface, record.model) == (
        "POST",
        "/qwq-32b",
        "workers",
        "qwq-32b",
    )
    assert (record.status, record.target, record.attempts, record.streamed) == (200, "qwq-32b#1", 1, False)
    assert record.request_id == answer.headers["x-request-id"]
    assert record.usage is not None and record.usage.prompt_tokens > 0 and record.usage.completion_tokens > 0
    assert record.generated_chars > 0 and record.error_code == ""
    assert record.time_to_first_token is not None and 0 < record.time_to_first_token <= record.duration


def test_a_stream_is_recorded_with_the_usage_the_client_was_sent(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()
    records = listen(gateway)
    body = {
        "model": "qwq-32b",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    answer = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200 and "[DONE]" in answer.text
    (record,) = wait_for(records, 1)
    assert (record.surface, record.streamed, record.status) == ("openai", True, 200)
    assert record.usage is not None and f'"completion_tokens":{record.usage.completion_tokens}' in answer.text


def test_a_failed_upstream_is_recorded_with_its_error_code_and_every_attempt(
    live_gateway_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    with serving(FaultServer(["500"])) as upstream:
        gateway = gateway_with_table(live_gateway_factory, tmp_path, upstream)
        records = listen(gateway)
        body = {"model": "qwq-32b", "messages": [{"role": "user", "content": "Hi"}]}
        answer = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)
        (record,) = wait_for(records, 1)
    assert answer.status_code >= 500
    assert record.status == answer.status_code and record.error_code == answer.json()["error"]["code"] != ""
    assert record.attempts == upstream.app.attempts >= 1 and record.usage is None


def test_a_client_that_leaves_mid_stream_is_recorded_as_499_with_what_was_generated(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory(simulator_token_delay=0.02)
    records = listen(gateway)
    body = {"prompt": "Tell me a long story", "stream": True, "max_tokens": 400}
    with httpx.stream("POST", f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10) as answer:
        lines = answer.iter_lines()
        while sum(1 for _ in zip(range(10), lines, strict=False)) < 10:
            pass
    (record,) = wait_for(records, 1)
    assert record.status == 499 and record.streamed
    assert record.usage is None and record.generated_chars > 0


def test_routes_without_a_model_are_recorded_without_one_and_a_failing_sink_costs_nothing(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory()

    def broken(record: RequestRecord) -> None:
        raise RuntimeError("a sink bug")

    gateway.app.sinks.append(broken)
    records = listen(gateway)
    assert httpx.get(f"{gateway.url}/healthz", timeout=10).status_code == 200
    answer = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "Hi"}, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    first, second = wait_for(records, 2)
    assert (first.path, first.surface, first.model, first.status) == ("/healthz", "", "", 200)
    assert second.status == 200


@pytest.mark.parametrize("path", ["/v1/messages", "/client/v4/accounts/acct/ai/run/@cf/qwen/qwq-32b"])
def test_every_surface_names_itself(live_gateway_factory: Callable[..., LiveServer], path: str) -> None:
    gateway = live_gateway_factory()
    records = listen(gateway)
    if path == "/v1/messages":
        body: dict[str, object] = {
            "model": "qwq-32b",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        headers = {"x-api-key": AUTH["Authorization"].split()[1], "anthropic-version": "2023-06-01"}
    else:
        body, headers = {"prompt": "Hi"}, AUTH
    assert httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=10).status_code == 200
    (record,) = wait_for(records, 1)
    assert record.surface == ("anthropic" if path == "/v1/messages" else "cloudflare")
