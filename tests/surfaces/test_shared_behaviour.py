"""What every surface shares with `/:modelSlug`: auth first, body limits, 415, and 499 with cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH
from tests.servers import LiveServer

# (path, a valid body asking the simulator for `text`, the error's place in the dialect's body)
SURFACES: list[tuple[str, Callable[[str], dict[str, Any]], Callable[[Any], Any]]] = [
    (
        "/v1/chat/completions",
        lambda text: {"model": "qwq-32b", "messages": [{"role": "user", "content": text}]},
        lambda body: body["error"]["message"],
    ),
    (
        "/v1/messages",
        lambda text: {"model": "qwq-32b", "max_tokens": 64, "messages": [{"role": "user", "content": text}]},
        lambda body: body["error"]["message"] if body["type"] == "error" else None,
    ),
    (
        "/client/v4/accounts/acc/ai/run/@cf/qwen/qwq-32b",
        lambda text: {"messages": [{"role": "user", "content": text}]},
        lambda body: body["errors"][0]["message"] if body["success"] is False else None,
    ),
]
IDS = ["openai", "anthropic", "cloudflare"]


@pytest.mark.parametrize(("path", "body", "error_of"), SURFACES, ids=IDS)
def test_auth_comes_before_the_model(
    live_gateway_factory: Callable[..., LiveServer], path: str, body: Any, error_of: Any
) -> None:
    gateway = live_gateway_factory()
    payload = body("hi")
    payload["model"] = "no-such-model"
    r = httpx.post(f"{gateway.url}{path.replace('qwq-32b', 'nope')}", json=payload, timeout=10)
    assert r.status_code == 401 and error_of(r.json())


@pytest.mark.parametrize(("path", "body", "error_of"), SURFACES, ids=IDS)
def test_body_limits_and_media_type(
    live_gateway_factory: Callable[..., LiveServer], path: str, body: Any, error_of: Any
) -> None:
    gateway = live_gateway_factory(max_body_bytes=300)
    big = httpx.post(f"{gateway.url}{path}", json=body("x" * 400), headers=AUTH, timeout=10)
    assert big.status_code == 413 and error_of(big.json())
    form = httpx.post(f"{gateway.url}{path}", content=b"a=b", headers={**AUTH, "Content-Type": "text/plain"})
    assert form.status_code == 415 and "Content-Type" in error_of(form.json())
    broken = httpx.post(f"{gateway.url}{path}", content=b"{not json", headers=AUTH, timeout=10)
    assert broken.status_code == 400 and "JSON" in error_of(broken.json())


@pytest.mark.parametrize(("path", "body", "error_of"), SURFACES, ids=IDS)
def test_disconnect_cancels_the_upstream_and_logs_499(
    fake_upstream: LiveServer,
    live_gateway_factory: Callable[..., LiveServer],
    log_lines: list[str],
    path: str,
    body: Any,
    error_of: Any,
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}{path}", json=body("hello [sim:slow-start=30]"), headers=AUTH, timeout=0.5)
    stats = fake_upstream.app.stats
    deadline = time.monotonic() + 3
    while stats.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stats.cancelled == 1 and stats.finished == 0 and stats.open == 0
    deadline = time.monotonic() + 3
    while not any(" 499 " in line for line in log_lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(line.startswith(f"POST {path} 499 ") for line in log_lines)
