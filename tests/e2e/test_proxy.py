"""End to end: a real uvicorn gateway in front of a real local fake upstream, over real sockets."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import AUTH
from tests.servers import LiveServer, free_port

UPSTREAM_KEY = "sk-upstream-secret-do-not-leak"
CHAT = {"messages": [{"role": "user", "content": "What is an edge gateway?"}], "top_k": 5, "seed": 7}


@pytest.fixture
def gateway(fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(
        upstream_url=f"{fake_upstream.url}/v1", upstream_api_key=UPSTREAM_KEY, upstream_model="Qwen/QwQ-32B"
    )


def post(gateway: LiveServer, body: object, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10, **kwargs)  # type: ignore[arg-type]


def ask(fault: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": f"hello [sim:{fault}]"}]}


def test_forwards_to_the_upstream_and_answers(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, CHAT)
    assert r.status_code == 200
    assert "</think>" in r.json()["response"]
    stats = fake_upstream.app.stats
    sent = stats.bodies[-1]
    assert sent["model"] == "Qwen/QwQ-32B"
    assert sent["messages"] == CHAT["messages"]
    assert (sent["max_tokens"], sent["temperature"], sent["top_k"], sent["seed"]) == (256, 0.15, 5, 7)
    assert "guided_json" not in sent
    assert stats.headers[-1]["authorization"] == f"Bearer {UPSTREAM_KEY}"


def test_prompt_form_becomes_one_user_message(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = httpx.post(f"{gateway.url}/qwq-32b?shape=choices", json={"prompt": "Hi there"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
    assert fake_upstream.app.stats.bodies[-1]["messages"] == [{"role": "user", "content": "Hi there"}]


def test_client_errors(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    assert httpx.post(f"{gateway.url}/qwq-32b", json=CHAT).status_code == 401
    assert post(gateway, {"messages": "nope"}).status_code == 400
    assert httpx.post(f"{gateway.url}/gpt-9", json=CHAT, headers=AUTH).status_code == 404
    form = httpx.post(f"{gateway.url}/qwq-32b", data={"prompt": "x"}, headers=AUTH)
    assert form.status_code == 415
    huge = httpx.post(f"{gateway.url}/qwq-32b", json={"prompt": "x" * 5_000_000}, headers=AUTH)
    assert huge.status_code == 413 and huge.json()["error"] == "Request body too large"
    assert fake_upstream.app.stats.received == 0  # nothing invalid was forwarded


@pytest.mark.parametrize(
    ("fault", "status", "needle"),
    [
        ("error-500", 500, "answered 500"),
        ("error-503", 500, "answered 503"),
        ("error-400", 400, "upstream refused"),
        ("error-401", 500, "credentials"),
        ("error-403", 500, "credentials"),
        ("error-429", 429, "rate limiting"),
        ("malformed", 500, "without 'choices'"),
        ("garbage", 500, "not JSON"),
    ],
)
def test_upstream_failures(gateway: LiveServer, fault: str, status: int, needle: str) -> None:
    r = post(gateway, ask(fault))
    assert r.status_code == status
    body = r.json()
    assert needle in body["error"]
    assert UPSTREAM_KEY not in r.text and "Traceback" not in r.text
    if status == 429:
        assert r.headers["retry-after"] == "1"


def test_unreachable_upstream_is_500(live_gateway_factory: Callable[..., LiveServer]) -> None:
    gateway = live_gateway_factory(
        upstream_url=f"http://127.0.0.1:{free_port()}/v1", upstream_api_key=UPSTREAM_KEY
    )
    r = post(gateway, CHAT)
    assert r.status_code == 500 and "connect" in r.json()["error"]
    assert UPSTREAM_KEY not in r.text


def test_upstream_timeout_is_500(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1", upstream_first_byte_timeout=0.5)
    started = time.monotonic()
    r = post(gateway, ask("slow-start=5"))
    assert r.status_code == 500 and r.json()["error"].startswith("The upstream")
    assert time.monotonic() - started < 4


def test_disconnect_cancels_the_upstream_and_logs_499(
    gateway: LiveServer, fake_upstream: LiveServer, log_lines: list[str]
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}/qwq-32b", json=ask("slow-start=30"), headers=AUTH, timeout=0.5)
    deadline = time.monotonic() + 3
    while fake_upstream.app.stats.cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = fake_upstream.app.stats
    assert stats.cancelled == 1 and stats.finished == 0 and stats.open == 0
    deadline = time.monotonic() + 3
    while not any(" 499 " in line for line in log_lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(line.startswith("POST /qwq-32b 499 ") for line in log_lines)


def test_logs_carry_no_secrets_or_bodies(gateway: LiveServer, log_lines: list[str]) -> None:
    secret_prompt = "my-private-prompt-text-4711"
    post(gateway, {"messages": [{"role": "user", "content": secret_prompt}]})
    post(gateway, ask("error-401"))
    post(gateway, {"messages": [{"role": "user", "content": secret_prompt + " [sim:malformed]"}]})
    assert log_lines
    joined = "\n".join(log_lines)
    assert secret_prompt not in joined and UPSTREAM_KEY not in joined and "Traceback" not in joined
