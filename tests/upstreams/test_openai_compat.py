"""The OpenAI-compatible adapter against `httpx.MockTransport` upstreams (pure request/response logic)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from worker.config.models import Target
from worker.core.aggregate import aggregate
from worker.core.errors import (
    BadRequest,
    GatewayError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)
from worker.core.ir import (
    ChatRequest,
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    SamplingParams,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    UsageEvent,
)
from worker.upstreams.openai_compat import OpenAICompatible, build_payload, completion_events
from worker.upstreams.wire.httpx_wire import HttpxWire

TARGET = Target("openai", "http://upstream.test/v1", "Qwen/QwQ-32B", "sk-upstream")
REQUEST = ChatRequest(model="qwq-32b", messages=(Message("user", "hi"),), params=SamplingParams(max_tokens=9))


def adapter(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAICompatible:
    return OpenAICompatible(HttpxWire(httpx.MockTransport(handler)))


def completion(message: dict[str, object], **extra: object) -> httpx.Response:
    body: dict[str, object] = {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    body.update(extra)
    return httpx.Response(200, json=body)


def test_payload_maps_every_field() -> None:
    request = ChatRequest(
        model="qwq-32b",
        messages=(
            Message("system", "be brief"),
            Message("user", (TextPart("what is this?"), ImagePart("data:image/png;base64,AAAA"))),
            Message("assistant", "", tool_calls=(ToolCall("call1", "f", '{"a": 1}'),)),
            Message("tool", "42", tool_call_id="call1"),
        ),
        params=SamplingParams(max_tokens=10, temperature=0.2, top_k=5, seed=3, stop=("END",)),
        tools=(ToolSpec("f", "does f", {"type": "object", "properties": {}}),),
        tool_choice=ToolChoice("function", "f"),
        response_schema={"type": "object"},
        stream=True,
    )
    payload = build_payload(request, TARGET)
    assert payload["model"] == "Qwen/QwQ-32B"
    assert payload["messages"][1]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    assert payload["messages"][2]["tool_calls"] == [
        {"id": "call1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    assert payload["messages"][3] == {"role": "tool", "content": "42", "tool_call_id": "call1"}
    assert (payload["max_tokens"], payload["temperature"], payload["top_k"], payload["seed"]) == (
        10,
        0.2,
        5,
        3,
    )
    assert payload["stop"] == ["END"] and "top_p" not in payload
    assert payload["tools"][0]["function"]["name"] == "f"
    assert payload["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert payload["response_format"]["type"] == "json_schema" and "guided_json" not in payload
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}


def test_completion_events_read_reasoning_tools_and_usage() -> None:
    body = orjson.dumps(
        {
            "choices": [
                {
                    "message": {
                        "content": "answer",
                        "reasoning_content": "thinking",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {
                "prompt_tokens": 3,
                "completion_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 2},
            },
        }
    )
    events = list(completion_events(body))
    assert events[0] == ReasoningDelta("thinking") and events[1] == TextDelta("answer")
    assert events[2] == ToolCallDelta(0, "{}", "c1", "f") and events[3] == Finish("tool_calls")
    assert isinstance(events[4], UsageEvent) and events[4].usage.reasoning_tokens == 2
    recent_vllm = orjson.dumps({"choices": [{"message": {"content": "a", "reasoning": "r"}}]})
    assert next(iter(completion_events(recent_vllm))) == ReasoningDelta("r")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"choices": []}',
        b'{"choices": [{"text": "x"}]}',
        b'{"choices": [{"message": {"content": null}}]}',
        b'{"choices": [{"message": {"content": 5}}]}',
    ],
)
def test_bad_bodies_are_errors_never_empty_success(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        list(completion_events(body))


async def test_request_carries_key_and_answer_is_aggregated() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion(
            {"role": "assistant", "content": "hello"}, usage={"prompt_tokens": 1, "completion_tokens": 2}
        )

    result = await aggregate(adapter(handler).events(REQUEST, TARGET))
    assert result.text == "hello" and result.usage is not None and result.usage.total_tokens == 3
    assert str(seen[0].url) == "http://upstream.test/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-upstream"
    assert orjson.loads(seen[0].content)["max_tokens"] == 9


@pytest.mark.parametrize(
    ("status", "kind", "status_out"),
    [
        (400, BadRequest, 400),
        (401, UpstreamError, 500),
        (429, RateLimited, 429),
        (500, UpstreamError, 500),
        (502, UpstreamError, 500),
        (504, UpstreamTimeout, 500),
    ],
)
async def test_error_statuses(status: int, kind: type[GatewayError], status_out: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "upstream said sk-upstream is bad"}})

    with pytest.raises(kind) as info:
        await aggregate(adapter(handler).events(REQUEST, TARGET))
    assert info.value.status == status_out and "sk-upstream" not in info.value.message


async def test_transport_failures_are_translated() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    with pytest.raises(UpstreamError, match="connect"):
        await aggregate(adapter(refuse).events(REQUEST, TARGET))
    with pytest.raises(UpstreamTimeout):
        await aggregate(adapter(slow).events(REQUEST, TARGET))
    with pytest.raises(UpstreamError, match="RemoteProtocolError"):
        await aggregate(adapter(reset).events(REQUEST, TARGET))
