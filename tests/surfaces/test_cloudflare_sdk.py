"""The official `cloudflare` package against a live gateway: `ai.run` answers, streams, tools, errors."""

from __future__ import annotations

import json
from typing import Any

import cloudflare
import pytest

from tests.conftest import API_KEY
from tests.servers import LiveServer

MODEL = "@cf/qwen/qwq-32b"
ASK: Any = [{"role": "user", "content": "What is an edge gateway?"}]
WEATHER_TOOL: Any = {  # the Workers schema wants a description on every parameter
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}


def sdk(gateway: LiveServer, key: str = API_KEY) -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(
        api_token=key, base_url=f"{gateway.url}/client/v4", max_retries=0, timeout=10
    )


def test_run_returns_the_result(gateway: LiveServer) -> None:
    result: Any = sdk(gateway).ai.run(MODEL, account_id="0123abcd", messages=ASK, max_tokens=400)
    assert set(result) == {"response", "usage"}
    assert "</think>" in result["response"]  # Workers AI returns QwQ's reasoning inline
    assert (
        result["usage"]["total_tokens"]
        == result["usage"]["prompt_tokens"] + result["usage"]["completion_tokens"]
    )


def test_any_model_table_name_in_the_path(gateway: LiveServer) -> None:
    for name in ("qwq-32b", "Qwen/QwQ-32B"):
        result: Any = sdk(gateway).ai.run(name, account_id="acc", messages=ASK, max_tokens=3)
        assert result["usage"]["completion_tokens"] == 3


def test_streamed_run_in_workers_sse(gateway: LiveServer) -> None:
    with sdk(gateway).ai.with_streaming_response.run(
        MODEL, account_id="acc", messages=ASK, stream=True, max_tokens=20
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all("response" in e for e in events) and "usage" in events[-1]
    assert len("".join(e["response"] for e in events)) > 0 and events[-1]["usage"]["completion_tokens"] == 20


def test_tool_call_round_trip(gateway: LiveServer) -> None:
    client = sdk(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first: Any = client.ai.run(MODEL, account_id="acc", messages=messages, tools=[WEATHER_TOOL])
    assert first["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "example"}}]
    messages.append({"role": "assistant", "content": ""})
    messages.append({"role": "tool", "tool_call_id": "000000001", "content": "21 C"})
    final: Any = client.ai.run(MODEL, account_id="acc", messages=messages, tools=[WEATHER_TOOL])
    assert final["response"].endswith("The tool returned: 21 C") and "tool_calls" not in final


def test_structured_output_with_guided_json(gateway: LiveServer) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    result: Any = sdk(gateway).ai.run(
        MODEL, account_id="acc", messages=ASK, max_tokens=400, extra_body={"guided_json": schema}
    )
    assert json.loads(result["response"].rsplit("</think>", 1)[1]) == {"ok": True}


def test_bad_key(gateway: LiveServer) -> None:
    with pytest.raises(cloudflare.AuthenticationError) as caught:
        sdk(gateway, key="wrong").ai.run(MODEL, account_id="acc", messages=ASK)
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "result": None,
        "success": False,
        "errors": [{"code": 10000, "message": "Authentication error"}],
        "messages": [],
    }


BAD_CONTENT: Any = [{"role": "user", "content": 5}]


def test_bad_body(gateway: LiveServer) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        sdk(gateway).ai.run(MODEL, account_id="acc", messages=BAD_CONTENT)
    [error] = caught.value.body["errors"]  # type: ignore[index]
    assert error["code"] == 5006
    assert (
        error["message"].startswith("AiError: Bad input: Error: ")
        and "'/messages/0/content'" in error["message"]
    )


def test_unknown_model(gateway: LiveServer) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        sdk(gateway).ai.run("@cf/meta/llama-nope", account_id="acc", messages=ASK)
    assert caught.value.body["errors"] == [  # type: ignore[index]
        {"code": 5007, "message": "No such model @cf/meta/llama-nope or task"}
    ]


def test_too_large(live_gateway_factory: Any) -> None:
    small = live_gateway_factory(max_body_bytes=200)
    with pytest.raises(cloudflare.APIStatusError) as caught:
        sdk(small).ai.run(MODEL, account_id="acc", messages=[{"role": "user", "content": "x" * 500}])
    assert caught.value.status_code == 413
    assert caught.value.body["errors"][0]["code"] == 3006  # type: ignore[index]


def test_upstream_timeout_is_408_3007(live_gateway_factory: Any) -> None:
    slow = live_gateway_factory(upstream_first_byte_timeout=0.3)
    ask: Any = [{"role": "user", "content": "hi [sim:slow-start=5]"}]
    with pytest.raises(cloudflare.APIStatusError) as caught:
        sdk(slow).ai.run(MODEL, account_id="acc", messages=ask)
    assert caught.value.status_code == 408
    assert caught.value.body["errors"][0]["code"] == 3007  # type: ignore[index]
