"""The Cloudflare Workers AI REST adapter against a fake Cloudflare on a real socket, behind a gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import orjson
import pytest

from tests.cloudflare_server import ANSWER, FakeCloudflare
from tests.conftest import AUTH
from tests.servers import LiveServer, serving
from worker.core.errors import BadRequest, PayloadTooLarge, RateLimited, UpstreamError, UpstreamTimeout
from worker.routing.retry import Verdict, classify
from worker.upstreams.workers_ai import cloudflare_error

TOKEN = "cf-token-secret-4711"
# What the router does with each Cloudflare code (see worker.routing.retry).
VERDICTS = {
    5006: Verdict.FATAL,
    5007: Verdict.FAILOVER,
    3042: Verdict.FAILOVER,
    3023: Verdict.NEXT_KEY,
    10000: Verdict.NEXT_KEY,
    3007: Verdict.RETRY,
    3040: Verdict.RETRY,
    3036: Verdict.FAILOVER,
}
ACCOUNT = "acc0123"
WEATHER = {
    "name": "get_weather",
    "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}},
}


@pytest.fixture
def fake_cloudflare() -> Iterator[LiveServer]:
    with serving(FakeCloudflare(TOKEN, ACCOUNT)) as server:
        yield server


def test_the_fake_speaks_what_the_official_sdk_expects(fake_cloudflare: LiveServer) -> None:
    client = cloudflare.Cloudflare(
        api_token=TOKEN, base_url=f"{fake_cloudflare.url}/client/v4", max_retries=0
    )
    result = client.ai.run(
        "@cf/qwen/qwq-32b", account_id=ACCOUNT, messages=[{"role": "user", "content": "hi"}]
    )
    assert isinstance(result, dict) and result["response"] == ANSWER
    with pytest.raises(cloudflare.AuthenticationError):
        bad = cloudflare.Cloudflare(
            api_token="wrong", base_url=f"{fake_cloudflare.url}/client/v4", max_retries=0
        )
        bad.ai.run("@cf/qwen/qwq-32b", account_id=ACCOUNT, prompt="hi")


def start_gateway(
    factory: Callable[..., LiveServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream: LiveServer,
    model: str = "@cf/qwen/qwq-32b",
    token: str = TOKEN,
) -> LiveServer:
    monkeypatch.setenv("TEST_CF_TOKEN", token)
    path = tmp_path / "models.toml"
    path.write_text(
        "[models.qwq-32b]\n[[models.qwq-32b.targets]]\n"
        f'adapter = "workers-ai"\nbase_url = "{upstream.url}/client/v4"\naccount_id = "{ACCOUNT}"\n'
        f'model = "{model}"\napi_key_env = "TEST_CF_TOKEN"\n'
    )
    return factory(models_file=str(path), retry_attempts=0, breaker_failures=0)


@pytest.fixture
def gateway(
    live_gateway_factory: Callable[..., LiveServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_cloudflare: LiveServer,
) -> LiveServer:
    return start_gateway(live_gateway_factory, tmp_path, monkeypatch, fake_cloudflare)


def ask(gateway: LiveServer, content: str = "Capital of France?", **extra: Any) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10)


def stream(gateway: LiveServer, content: str = "Capital of France?", **extra: Any) -> tuple[list[Any], str]:
    body = {"messages": [{"role": "user", "content": content}], "stream": True, **extra}
    with httpx.stream("POST", f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10) as r:
        assert r.status_code == 200
        raw = r.read().decode()
    events = [orjson.loads(x[6:]) for x in raw.splitlines() if x.startswith("data: ") and x != "data: [DONE]"]
    return events, raw


def test_plain_answer_reads_the_envelope(gateway: LiveServer, fake_cloudflare: LiveServer) -> None:
    r = ask(gateway, top_k=5, seed=42)
    assert r.status_code == 200
    assert r.json()["response"] == ANSWER
    usage = r.json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (12, 17, 29)
    # Cloudflare does not say how many were reasoning; the gateway counts its split of the inline text.
    assert 0 < usage["completion_tokens_details"]["reasoning_tokens"] < 17
    seen = fake_cloudflare.app.seen
    assert seen.paths == [f"/client/v4/accounts/{ACCOUNT}/ai/run/@cf/qwen/qwq-32b"]
    assert seen.authorizations == [f"Bearer {TOKEN}"]
    sent = seen.bodies[0]
    assert sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert (sent["top_k"], sent["seed"]) == (5, 42) and "model" not in sent and "stream" not in sent


def test_streamed_answer_drops_padding_and_keeps_usage(gateway: LiveServer) -> None:
    events, raw = stream(gateway)
    assert "".join(e.get("response", "") for e in events) == ANSWER
    assert all("p" not in e for e in events)
    assert events[-1]["usage"]["completion_tokens"] == 17 and "estimated" not in events[-1]["usage"]
    assert raw.count("data: [DONE]") == 1


def test_tool_calls_plain_and_streamed(gateway: LiveServer, fake_cloudflare: LiveServer) -> None:
    r = ask(gateway, tools=[WEATHER])
    assert r.status_code == 200
    assert r.json()["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert fake_cloudflare.app.seen.bodies[-1]["tools"] == [WEATHER]
    events, _ = stream(gateway, tools=[WEATHER])
    calls = [e["tool_calls"] for e in events if "tool_calls" in e]
    assert calls == [[{"name": "get_weather", "arguments": {"city": "Paris"}}]]


def test_raw_prompt_is_sent_as_prompt(gateway: LiveServer, fake_cloudflare: LiveServer) -> None:
    body = {"prompt": "<|im_start|>user\nhi<|im_end|>", "raw": True}
    r = httpx.post(f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10)
    assert r.status_code == 200 and r.json()["response"] == ANSWER
    sent = fake_cloudflare.app.seen.bodies[-1]
    assert sent["prompt"] == body["prompt"] and sent["raw"] is True and "messages" not in sent


@pytest.mark.parametrize(
    ("marker", "status", "needle"),
    [
        ("[cf:capacity]", 429, "over capacity"),
        ("[cf:timeout]", 500, "timed out"),
        ("[cf:too-large]", 413, "too large"),
        ("[cf:bad-input]", 400, "Bad input"),
        ("[cf:no-envelope]", 500, "envelope"),
        ("[cf:unsuccessful]", 500, "Internal error"),
    ],
)
def test_cloudflare_errors_reach_the_client_in_our_terms(
    gateway: LiveServer, marker: str, status: int, needle: str
) -> None:
    r = ask(gateway, f"hi {marker}")
    assert r.status_code == status and needle in r.json()["error"], r.text
    assert TOKEN not in r.text


def test_a_cut_stream_ends_with_an_error_event(gateway: LiveServer) -> None:
    events, raw = stream(gateway, "hi [cf:cut]")
    assert "cut short" in events[-1]["error"] and "data: [DONE]" not in raw
    assert ANSWER.startswith("".join(e.get("response", "") for e in events[:-1]))


def test_bad_token_and_unknown_model_are_the_gateways_fault(
    live_gateway_factory: Callable[..., LiveServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_cloudflare: LiveServer,
) -> None:
    wrong_token = start_gateway(live_gateway_factory, tmp_path, monkeypatch, fake_cloudflare, token="nope")
    r = ask(wrong_token)
    assert r.status_code == 500 and "credentials" in r.json()["error"]
    wrong_model = start_gateway(live_gateway_factory, tmp_path, monkeypatch, fake_cloudflare, model="@cf/x/y")
    r = ask(wrong_model)
    assert r.status_code == 500 and "does not know the configured model" in r.json()["error"]


@pytest.mark.parametrize(
    ("status", "code", "kind", "upstream_status"),
    [
        (400, 5006, BadRequest, 400),
        (400, 5007, UpstreamError, 400),
        (401, 10000, UpstreamError, 401),
        (403, 10000, UpstreamError, 401),
        (413, 3006, PayloadTooLarge, 413),
        (408, 3007, UpstreamTimeout, 408),
        (429, 3040, RateLimited, 429),
        (429, 3036, RateLimited, 429),
        (404, 3042, UpstreamError, 400),
        (403, 3023, UpstreamError, 403),
        (503, 9999, UpstreamError, 503),
    ],
)
def test_cloudflare_error_table(status: int, code: int, kind: type, upstream_status: int) -> None:
    body = orjson.dumps(
        {"result": None, "success": False, "errors": [{"code": code, "message": f"m {TOKEN}"}]}
    )
    error = cloudflare_error(status, body, {"retry-after": "7"})
    assert type(error) is kind
    assert error.detail["upstream_status"] == upstream_status
    assert error.message.endswith(f"m {TOKEN}")  # the upstream's words; the exchange redacts them
    if kind is RateLimited:
        assert error.headers == {"Retry-After": "7"}
    if code in VERDICTS:
        assert classify(error) is VERDICTS[code]
