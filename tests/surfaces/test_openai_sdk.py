"""The official `openai` package against a live gateway: chat, streams, tools, JSON, reasoning, errors."""

from __future__ import annotations

import json
from typing import Any

import openai
import pydantic
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import API_KEY
from tests.servers import LiveServer

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK: Any = [{"role": "user", "content": "What is an edge gateway?"}]


def sdk(gateway: LiveServer, base: str = "/v1", key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gateway.url}{base}", max_retries=0, timeout=10)


@pytest.mark.parametrize("base", ["/v1", "/v1/openai", "/client/v4/accounts/any-account/ai/v1"])
def test_plain_chat_with_reasoning_content(gateway: LiveServer, base: str) -> None:
    answer = sdk(gateway, base).chat.completions.create(model="qwq-32b", messages=ASK, seed=3, user="u-1")
    [choice] = answer.choices
    assert answer.object == "chat.completion" and answer.model == "qwq-32b"
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content and "</think>" not in choice.message.content
    extra = choice.message.model_extra or {}
    assert extra["reasoning_content"].startswith("Okay, the user asks")
    assert answer.usage is not None and answer.usage.total_tokens > answer.usage.prompt_tokens > 0


def test_model_table_names_are_all_accepted(gateway: LiveServer) -> None:
    client = sdk(gateway)
    for name in ("qwq-32b", "Qwen/QwQ-32B", "@cf/qwen/qwq-32b"):
        answer = client.chat.completions.create(model=name, messages=ASK, max_completion_tokens=5)
        assert answer.model == name and answer.choices[0].finish_reason == "length"
        assert answer.usage is not None and answer.usage.completion_tokens == 5


def test_streamed_chat_with_usage(gateway: LiveServer) -> None:
    chunks = list(
        sdk(gateway).chat.completions.create(
            model="qwq-32b", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert deltas[0].role == "assistant"
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    text = "".join(d.content or "" for d in deltas)
    assert reasoning.startswith("Okay, the user asks") and text and "</think>" not in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_stream_without_include_usage_has_no_usage_chunk(gateway: LiveServer) -> None:
    chunks = list(sdk(gateway).chat.completions.create(model="qwq-32b", messages=ASK, stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_round_trip(gateway: LiveServer, stream: bool) -> None:
    client = sdk(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        pieces: dict[str, str] = {"id": "", "name": "", "arguments": ""}
        finish = None
        for chunk in client.chat.completions.create(
            model="qwq-32b", messages=messages, tools=[WEATHER_TOOL], tool_choice="required", stream=True
        ):
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            for piece in choice.delta.tool_calls or ():
                assert piece.index == 0 and piece.function is not None
                pieces["id"] += piece.id or ""
                pieces["name"] += piece.function.name or ""
                pieces["arguments"] += piece.function.arguments or ""
        assert finish == "tool_calls"
        call_id, name, arguments = pieces["id"], pieces["name"], pieces["arguments"]
    else:
        first = client.chat.completions.create(
            model="qwq-32b", messages=messages, tools=[WEATHER_TOOL], tool_choice="auto"
        )
        assert first.choices[0].finish_reason == "tool_calls"
        calls: list[Any] = first.choices[0].message.tool_calls or []
        [call] = calls
        assert call.type == "function"
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
    assert name == "get_weather" and json.loads(arguments) == {"city": "example"}
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 21}'})
    final = client.chat.completions.create(model="qwq-32b", messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == 'The tool returned: {"temp_c": 21}'


def test_tool_choice_none_and_named(gateway: LiveServer) -> None:
    client = sdk(gateway)
    other: Any = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    none = client.chat.completions.create(
        model="qwq-32b", messages=ASK, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.tool_calls is None and none.choices[0].finish_reason == "stop"
    named = client.chat.completions.create(
        model="qwq-32b",
        messages=ASK,
        tools=[WEATHER_TOOL, other],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    named_calls: list[Any] = named.choices[0].message.tool_calls or []
    assert [c.function.name for c in named_calls] == ["get_time"]


def test_structured_output(gateway: LiveServer) -> None:
    schema: Any = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 18}},
        "required": ["name", "age"],
    }
    answer = sdk(gateway).chat.completions.create(
        model="qwq-32b",
        messages=ASK,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    )
    value = json.loads(answer.choices[0].message.content or "")
    Draft202012Validator(schema).validate(value)
    json_mode = sdk(gateway).chat.completions.create(
        model="qwq-32b", messages=ASK, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(json_mode.choices[0].message.content or ""), dict)


def test_models_list(gateway: LiveServer) -> None:
    assert [m.id for m in sdk(gateway).models.list()] == ["qwq-32b"]
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, key="wrong").models.list()


def test_bad_key(gateway: LiveServer) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(gateway, key="wrong-key").chat.completions.create(model="qwq-32b", messages=ASK)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_bad_body_names_the_param(gateway: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gateway).chat.completions.create(
            model="qwq-32b", messages=[{"role": "user", "content": "hi"}], temperature=7
        )
    error = caught.value
    assert error.status_code == 400 and error.param == "temperature" and error.type == "invalid_request_error"
    assert "/temperature" in error.message
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gateway).chat.completions.create(model="qwq-32b", messages=ASK, n=2)
    assert caught.value.param == "n" and "n=1" in caught.value.message


def test_unknown_model(gateway: LiveServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(gateway).chat.completions.create(model="gpt-nope", messages=ASK)
    assert caught.value.code == "model_not_found" and "gpt-nope" in caught.value.message


def test_upstream_failure_mid_stream_is_an_error_event(gateway: LiveServer) -> None:
    stream = sdk(gateway).chat.completions.create(
        model="qwq-32b", messages=[{"role": "user", "content": "hi [sim:disconnect]"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert "mid-answer" in caught.value.message


def test_stop_cuts_the_answer(gateway: LiveServer) -> None:
    answer = sdk(gateway).chat.completions.create(model="qwq-32b", messages=ASK, stop=".")
    content = answer.choices[0].message.content or ""
    assert content and "." not in content and answer.choices[0].finish_reason == "stop"
    streamed = sdk(gateway).chat.completions.create(model="qwq-32b", messages=ASK, stop=["."], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == content


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]


def test_parse_helper_with_a_pydantic_model(gateway: LiveServer) -> None:
    answer = sdk(gateway).chat.completions.parse(model="qwq-32b", messages=ASK, response_format=Person)
    person = answer.choices[0].message.parsed
    assert isinstance(person, Person) and person.tags
