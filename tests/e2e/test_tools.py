"""End to end: tools (native and through the prompt) and structured output, on real sockets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e_helpers import (
    CLOCK_NESTED,
    WEATHER_FLAT,
    WEATHER_TURN,
    chunk_deltas,
    gateway_with_table,
    post,
    sse_events,
)
from tests.servers import LiveServer


@pytest.fixture
def gateway(fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1")


@pytest.fixture
def prompt_gateway(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer], tmp_path: Path
) -> LiveServer:
    return gateway_with_table(live_gateway_factory, tmp_path, fake_upstream, tool_mode="prompt")


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


OPENAI_TOOLS = [
    {"type": "function", "function": WEATHER_FLAT},
    CLOCK_NESTED,
]


# --- native tools -------------------------------------------------------------------------------


def test_both_tool_shapes_are_forwarded_natively(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, ask("Weather in Paris?", tools=[WEATHER_FLAT, CLOCK_NESTED], tool_choice="auto"))
    assert r.status_code == 200
    sent = fake_upstream.app.stats.bodies[-1]
    assert sent["tools"] == OPENAI_TOOLS and sent["tool_choice"] == "auto"
    body = r.json()
    assert body["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "example"}}]
    assert "</think>" in body["response"]  # inline reasoning before the call, as Workers AI


def test_tool_calls_in_the_choices_shape(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    choice = {"type": "function", "function": {"name": "get_time"}}
    r = post(gateway, ask("Time?", tools=[WEATHER_FLAT, CLOCK_NESTED], tool_choice=choice), "?shape=choices")
    assert fake_upstream.app.stats.bodies[-1]["tool_choice"] == choice
    answer = r.json()["choices"][0]
    assert answer["finish_reason"] == "tool_calls"
    (call,) = answer["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call") and len(call["id"]) == 13
    assert call["function"] == {"name": "get_time", "arguments": '{"zone":"example"}'}


def test_history_with_tool_calls_is_forwarded_intact(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    messages = WEATHER_TURN
    r = post(gateway, {"messages": messages, "tools": [WEATHER_FLAT]})
    assert fake_upstream.app.stats.bodies[-1]["messages"] == messages
    body = r.json()
    assert (
        body["response"].endswith(f"The tool returned: {messages[-1]['content']}")
        and "tool_calls" not in body
    )


def test_streamed_parallel_calls_in_the_openai_shape(gateway: LiveServer) -> None:
    body = ask("Weather and time [sim:parallel]", tools=[WEATHER_FLAT, CLOCK_NESTED], stream=True)
    events = sse_events(post(gateway, body, "?shape=choices"))
    assert events[-1] == "[DONE]"
    pieces = [call for delta in chunk_deltas(events) for call in delta.get("tool_calls", ())]
    firsts = [p for p in pieces if "id" in p]
    assert [(p["index"], p["type"], p["function"]["name"]) for p in firsts] == [
        (0, "function", "get_weather"),
        (1, "function", "get_time"),
    ]
    assert len({p["id"] for p in firsts}) == 2
    later = [p for p in pieces if "id" not in p]
    assert later and all(
        set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in later
    )
    arguments = {i: "".join(p["function"]["arguments"] for p in pieces if p["index"] == i) for i in (0, 1)}
    assert orjson.loads(arguments[0]) == {"city": "example"} and orjson.loads(arguments[1]) == {
        "zone": "example"
    }
    finishes = [e["choices"][0]["finish_reason"] for e in events if isinstance(e, dict) and e.get("choices")]
    assert finishes[-1] == "tool_calls"


def test_streamed_calls_in_the_workers_shape_come_whole(gateway: LiveServer) -> None:
    body = ask("Weather and time [sim:parallel]", tools=[WEATHER_FLAT, CLOCK_NESTED], stream=True)
    events = sse_events(post(gateway, body))
    with_calls = [e for e in events if isinstance(e, dict) and "tool_calls" in e]
    assert len(with_calls) == 1
    assert with_calls[0]["tool_calls"] == [
        {"name": "get_weather", "arguments": {"city": "example"}},
        {"name": "get_time", "arguments": {"zone": "example"}},
    ]
    assert "usage" in events[-2] and events[-1] == "[DONE]"


def test_tool_arguments_that_are_not_json_are_an_upstream_error(gateway: LiveServer) -> None:
    body = ask("Weather? [sim:bad-args]", tools=[WEATHER_FLAT])
    for shape in ("workers", "choices"):
        r = post(gateway, body, f"?shape={shape}")
        assert r.status_code == 500 and "not valid JSON" in r.json()["error"]
        events = sse_events(post(gateway, {**body, "stream": True}, f"?shape={shape}"))
        assert "not valid JSON" in events[-1]["error"] and "[DONE]" not in events
        finishes = [e["choices"][0].get("finish_reason") for e in events if e.get("choices")]
        assert "tool_calls" not in finishes


def test_invalid_tool_choice_is_a_400(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, ask("x", tools=[WEATHER_FLAT], tool_choice={"type": "function"}))
    assert r.status_code == 400 and "tool_choice" in r.json()["error"]
    assert fake_upstream.app.stats.received == 0


def test_functions_is_refused_clearly(gateway: LiveServer) -> None:
    r = post(gateway, ask("x", functions=[{"name": "f", "code": "return 1"}]))
    assert r.status_code == 400 and "'functions'" in r.json()["error"]


# --- tools through the prompt -----------------------------------------------------------------------


def test_prompt_mode_sends_no_native_tools_and_parses_calls(
    prompt_gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    r = post(prompt_gateway, ask("Weather in Paris?", tools=[WEATHER_FLAT, CLOCK_NESTED]), "?shape=choices")
    sent = fake_upstream.app.stats.bodies[-1]
    assert "tools" not in sent and "tool_choice" not in sent
    assert sent["messages"][0]["role"] == "system" and "<tools>" in sent["messages"][0]["content"]
    answer = r.json()["choices"][0]
    assert answer["finish_reason"] == "tool_calls"
    assert "<tool_call" not in (answer["message"]["content"] or "")
    (call,) = answer["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"example"}'}


@pytest.mark.parametrize("shape", ["choices", "workers"])
def test_prompt_mode_streams_never_show_a_tag(prompt_gateway: LiveServer, shape: str) -> None:
    body = ask("Both [sim:parallel]", tools=[WEATHER_FLAT, CLOCK_NESTED], stream=True)
    events = sse_events(post(prompt_gateway, body, f"?shape={shape}"))
    assert events[-1] == "[DONE]"
    if shape == "choices":
        deltas = chunk_deltas(events)
        text = "".join(d.get("content") or "" for d in deltas)
        names = [c["function"]["name"] for d in deltas for c in d.get("tool_calls", ()) if "id" in c]
    else:
        text = "".join(e["response"] for e in events[:-1])
        names = [c["name"] for e in events[:-1] for c in e.get("tool_calls", ())]
    assert "<tool" not in text and "tool_call>" not in text and text.endswith("</think>\n\n")
    assert names == ["get_weather", "get_time"]


def test_prompt_mode_history_round_trip(prompt_gateway: LiveServer, fake_upstream: LiveServer) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call000000001",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "content": "rainy", "tool_call_id": "call000000001"},
    ]
    r = post(prompt_gateway, {"messages": messages, "tools": [WEATHER_FLAT]})
    sent = fake_upstream.app.stats.bodies[-1]["messages"]
    assert sent[-1] == {"role": "user", "content": "<tool_response>\nrainy\n</tool_response>"}
    assert r.json()["response"].endswith("The tool returned: rainy") and "tool_calls" not in r.json()


def test_prompt_mode_retries_once_when_a_required_call_did_not_come(
    prompt_gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    r = post(prompt_gateway, ask("Weather? [sim:no-call-once]", tools=[WEATHER_FLAT], tool_choice="required"))
    assert r.status_code == 200 and r.json()["tool_calls"][0]["name"] == "get_weather"
    assert fake_upstream.app.stats.received == 2


def test_prompt_mode_missing_required_call_is_an_error(
    prompt_gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    r = post(prompt_gateway, ask("Weather? [sim:no-call]", tools=[WEATHER_FLAT], tool_choice=named))
    assert r.status_code == 500 and "did not call a tool" in r.json()["error"]
    assert fake_upstream.app.stats.received == 2
    # streamed, the reasoning is already on its way: no second try, an error event instead of success
    body = ask("Weather again? [sim:no-call]", tools=[WEATHER_FLAT], tool_choice="required", stream=True)
    events = sse_events(post(prompt_gateway, body))
    assert "did not call a tool" in events[-1]["error"] and "[DONE]" not in events
    assert fake_upstream.app.stats.received == 3


def test_prompt_mode_stream_with_hidden_reasoning_can_still_retry(
    prompt_gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    body = ask("Weather? [sim:no-call-once]", tools=[WEATHER_FLAT], tool_choice="required", stream=True)
    events = sse_events(post(prompt_gateway, body, "?reasoning=hidden&shape=choices"))
    assert fake_upstream.app.stats.received == 2 and events[-1] == "[DONE]"
    deltas = chunk_deltas(events)
    assert [c["function"]["name"] for d in deltas for c in d.get("tool_calls", ()) if "id" in c] == [
        "get_weather"
    ]
    assert "The tool" not in "".join(
        d.get("content") or "" for d in deltas
    )  # the first try's text stayed back


def test_prompt_mode_auto_without_a_call_is_a_text_answer(
    prompt_gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    r = post(prompt_gateway, ask("Just talk [sim:no-call]", tools=[WEATHER_FLAT]))
    assert r.status_code == 200 and "tool_calls" not in r.json() and fake_upstream.app.stats.received == 1


# --- structured output ------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city", "days"],
}


@pytest.mark.parametrize("stream", [False, True])
def test_guided_json_becomes_a_response_format_and_is_checked(
    gateway: LiveServer, fake_upstream: LiveServer, stream: bool
) -> None:
    r = post(gateway, ask("Plan a trip", guided_json=SCHEMA, stream=stream), "?reasoning=hidden")
    sent = fake_upstream.app.stats.bodies[-1]
    assert "guided_json" not in sent
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
    }
    text = "".join(e["response"] for e in sse_events(r)[:-1]) if stream else r.json()["response"]
    assert orjson.loads(text) == {"city": "example", "days": 1}


def test_bad_json_is_retried_once_then_passes(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, ask("Plan [sim:bad-json-once]", guided_json=SCHEMA), "?shape=choices")
    assert r.status_code == 200 and fake_upstream.app.stats.received == 2
    content = r.json()["choices"][0]["message"]["content"]
    assert orjson.loads(content.split("</think>")[1]) == {"city": "example", "days": 1}


def test_bad_json_twice_is_an_error_never_a_success(gateway: LiveServer, fake_upstream: LiveServer) -> None:
    r = post(gateway, ask("Plan [sim:bad-json]", guided_json=SCHEMA))
    assert r.status_code == 500 and fake_upstream.app.stats.received == 2
    assert "not valid JSON" in r.json()["error"]
    events = sse_events(post(gateway, ask("Plan again [sim:bad-json]", guided_json=SCHEMA, stream=True)))
    assert "not valid JSON" in events[-1]["error"] and "[DONE]" not in events
    assert not any("usage" in e for e in events if isinstance(e, dict))
    assert fake_upstream.app.stats.received == 3  # the stream had begun: no second try


def test_invalid_guided_json_schema_is_a_400_before_the_upstream(
    gateway: LiveServer, fake_upstream: LiveServer
) -> None:
    r = post(gateway, ask("x", guided_json={"type": "no-such-type"}))
    assert r.status_code == 400 and "guided_json" in r.json()["error"]
    assert fake_upstream.app.stats.received == 0
