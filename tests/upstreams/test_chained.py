"""Chained gateways: a live front gateway whose upstream is a live back gateway (`adapter = "gateway"`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import AUTH
from tests.servers import LiveServer

BACK_KEY = "back-gateway-key-0042"
TOOL = {
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City"}}},
}

Factory = Callable[..., LiveServer]


def chain(
    factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **fields: str
) -> tuple[LiveServer, LiveServer]:
    back = factory(api_keys=BACK_KEY)
    monkeypatch.setenv("TEST_BACK_KEY", fields.pop("key", BACK_KEY))
    path = tmp_path / "front.toml"
    slug = fields.pop("slug", "qwq-32b")
    path.write_text(
        f'[models.qwq-32b]\n[[models.qwq-32b.targets]]\nadapter = "gateway"\nbase_url = "{back.url}"\n'
        f'model = "{slug}"\napi_key_env = "TEST_BACK_KEY"\n'
    )
    front = factory(models_file=str(path), retry_attempts=0, breaker_failures=0)
    return front, back


def post(gateway: LiveServer, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else AUTH
    return httpx.post(f"{gateway.url}/qwq-32b", json=body, headers=headers, timeout=10)


def streamed(gateway: LiveServer, body: dict[str, Any], key: str | None = None) -> tuple[list[Any], str]:
    headers = {"Authorization": f"Bearer {key}"} if key else AUTH
    with httpx.stream("POST", f"{gateway.url}/qwq-32b", json={**body, "stream": True}, headers=headers) as r:
        assert r.status_code == 200
        raw = r.read().decode()
    return [
        orjson.loads(x[6:]) for x in raw.splitlines() if x.startswith("data: ") and x != "data: [DONE]"
    ], raw


ASK = {"messages": [{"role": "user", "content": "Tell me about gateways"}], "seed": 3}


def without_cost(usage: dict[str, Any]) -> dict[str, Any]:
    """The back gateway's usage as the front passes it on: the cost is each gateway's own, at its own
    prices, and the front's table here has none (so it sends no `estimated_cost`)."""
    assert usage["estimated_cost"] > 0
    return {k: v for k, v in usage.items() if k != "estimated_cost"}


def test_a_chained_answer_equals_the_back_gateways(
    live_gateway_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, back = chain(live_gateway_factory, tmp_path, monkeypatch)
    direct = post(back, ASK, BACK_KEY)
    through = post(front, ASK)
    assert through.status_code == 200 == direct.status_code
    assert through.json()["response"] == direct.json()["response"]
    assert through.json()["usage"] == without_cost(direct.json()["usage"])


def test_a_chained_stream_equals_the_back_gateways(
    live_gateway_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, back = chain(live_gateway_factory, tmp_path, monkeypatch)
    direct, _ = streamed(back, ASK, BACK_KEY)
    through, raw = streamed(front, ASK)
    text = "".join(e.get("response", "") for e in through)
    assert text and text == "".join(e.get("response", "") for e in direct)
    assert through[-1]["usage"] == without_cost(direct[-1]["usage"]) and raw.count("data: [DONE]") == 1


def test_tool_calls_pass_through_the_chain(
    live_gateway_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, back = chain(live_gateway_factory, tmp_path, monkeypatch)
    body = {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [TOOL]}
    direct = post(back, body, BACK_KEY).json()
    through = post(front, body).json()
    assert direct.get("tool_calls") and through["tool_calls"] == direct["tool_calls"]
    events, _ = streamed(front, body)
    assert [e["tool_calls"] for e in events if "tool_calls" in e] == [direct["tool_calls"]]


@pytest.mark.parametrize(
    ("fault", "status", "needle"),
    [("error-400", 400, "refused"), ("error-503", 500, "answered 500"), ("error-429", 429, "rate limiting")],
)
def test_back_gateway_errors_are_translated(
    live_gateway_factory: Factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    status: int,
    needle: str,
) -> None:
    front, _ = chain(live_gateway_factory, tmp_path, monkeypatch)
    r = post(front, {"messages": [{"role": "user", "content": f"hi [sim:{fault}]"}]})
    assert r.status_code == status and needle in r.json()["error"]


def test_a_back_stream_failing_midway_ends_the_front_stream_with_an_error(
    live_gateway_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, _ = chain(live_gateway_factory, tmp_path, monkeypatch)
    events, raw = streamed(front, {"messages": [{"role": "user", "content": "hi [sim:disconnect]"}]})
    assert "mid-stream" in events[-1]["error"] and "data: [DONE]" not in raw


def test_wrong_key_or_slug_is_the_front_gateways_fault(
    live_gateway_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front, _ = chain(live_gateway_factory, tmp_path, monkeypatch, key="wrong")
    r = post(front, ASK)
    assert r.status_code == 500 and "credentials" in r.json()["error"]
    front, _ = chain(live_gateway_factory, tmp_path, monkeypatch, slug="llama-99")
    r = post(front, ASK)
    assert r.status_code == 500 and "does not serve" in r.json()["error"]
