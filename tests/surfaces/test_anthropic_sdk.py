"""The official `anthropic` package against a live gateway: messages, streams, tools, thinking, errors."""

from __future__ import annotations

import base64
from typing import Any, Literal

import anthropic
import httpx2
import orjson
import pydantic
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import API_KEY
from tests.servers import LiveServer

ASK: Any = [{"role": "user", "content": "What is an edge gateway?"}]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}


def sdk(gateway: LiveServer, key: str = API_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0, timeout=10)


def test_plain_message_hides_reasoning_unless_asked(gateway: LiveServer) -> None:
    message = sdk(gateway).messages.create(model="qwq-32b", max_tokens=1024, messages=ASK, system="Be brief.")
    assert message.type == "message" and message.role == "assistant" and message.model == "qwq-32b"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text
    assert "Okay, the user asks" not in message.content[0].text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_thinking_blocks_when_enabled(gateway: LiveServer) -> None:
    raw = sdk(gateway).messages.with_raw_response.create(
        model="qwq-32b", max_tokens=2048, messages=ASK, thinking=THINKING
    )
    assert raw.headers["x-gateway-ignored-fields"] == "thinking.budget_tokens"
    message = raw.parse()
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking.startswith("Okay, the user asks")
    assert text.type == "text" and text.text


def test_max_tokens_stop_reason(gateway: LiveServer) -> None:
    message = sdk(gateway).messages.create(model="qwq-32b", max_tokens=5, messages=ASK)
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 5


def test_streamed_message_event_sequence(gateway: LiveServer) -> None:
    events = list(
        sdk(gateway).messages.create(
            model="qwq-32b", max_tokens=2048, messages=ASK, thinking=THINKING, stream=True
        )
    )
    kinds = [e.type for e in events]
    # (the SDK drops `ping` events itself; the encoder's unit tests show them)
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["thinking", "text"] and kinds.count("content_block_stop") == 2
    deltas = {e.delta.type for e in events if e.type == "content_block_delta"}
    assert deltas == {"thinking_delta", "text_delta"}
    final = events[-2]
    assert final.type == "message_delta" and final.delta.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_helper_accumulates_the_message(gateway: LiveServer) -> None:
    with sdk(gateway).messages.stream(model="qwq-32b", max_tokens=1024, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text and message.content[0].type == "text" and message.content[0].text == text
    assert message.stop_reason == "end_turn" and message.usage.input_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(gateway: LiveServer, stream: bool) -> None:
    client = sdk(gateway)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first: Any
    if stream:
        with client.messages.stream(
            model="qwq-32b",
            max_tokens=1024,
            messages=messages,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "any"},
        ) as s:
            first = s.get_final_message()
    else:
        first = client.messages.create(
            model="qwq-32b",
            max_tokens=1024,
            messages=messages,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "auto"},
        )
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "example"}
    messages.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": [{"type": "text", "text": "21 C"}]},
            ],
        }
    )
    final = client.messages.create(model="qwq-32b", max_tokens=1024, messages=messages, tools=[WEATHER_TOOL])
    assert final.stop_reason == "end_turn"
    assert final.content[0].type == "text" and final.content[0].text == "The tool returned: 21 C"


def test_tool_result_as_last_turn_is_answered(gateway: LiveServer) -> None:
    messages: Any = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]
    final = sdk(gateway).messages.create(
        model="qwq-32b", max_tokens=512, messages=messages, tools=[WEATHER_TOOL]
    )
    assert final.content[0].type == "text" and final.content[0].text == "The tool returned: sunny"


def test_image_block_is_accepted(gateway: LiveServer) -> None:
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    content: Any = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "Describe the image."},
    ]
    message = sdk(gateway).messages.create(
        model="qwq-32b", max_tokens=512, messages=[{"role": "user", "content": content}]
    )
    assert message.content[0].type == "text" and message.content[0].text


def test_tool_choice_none_answers_in_text(gateway: LiveServer) -> None:
    message = sdk(gateway).messages.create(
        model="qwq-32b", max_tokens=512, messages=ASK, tools=[WEATHER_TOOL], tool_choice={"type": "none"}
    )
    assert message.stop_reason == "end_turn" and [b.type for b in message.content] == ["text"]


def test_bearer_auth_is_accepted(gateway: LiveServer) -> None:
    client = anthropic.Anthropic(auth_token=API_KEY, base_url=gateway.url, max_retries=0)
    assert client.messages.create(model="qwq-32b", max_tokens=64, messages=ASK).content


def test_bad_key(gateway: LiveServer) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        sdk(gateway, key="wrong").messages.create(model="qwq-32b", max_tokens=64, messages=ASK)
    assert caught.value.status_code == 401
    body: Any = caught.value.body
    assert body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": body["error"]["message"]},
    }
    assert "not valid" in body["error"]["message"]


def test_unknown_field_is_refused_as_the_api_refuses_it(gateway: LiveServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(gateway).messages.create(
            model="qwq-32b", max_tokens=64, messages=ASK, extra_body={"frobnicate": True}
        )
    body: Any = caught.value.body
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "frobnicate: Extra inputs are not permitted",
    }


def test_system_turn_in_messages_is_honoured(gateway: LiveServer) -> None:
    messages: Any = [
        {"role": "user", "content": "Weather?"},
        {"role": "system", "content": "Answer in one word."},
    ]
    message = sdk(gateway).messages.create(model="qwq-32b", max_tokens=256, messages=messages)
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"


def test_tool_runner_falls_back_when_threads_are_refused(gateway: LiveServer) -> None:
    """The SDK's tool runner asks for a server-side thread first (default settings); the gateway's
    `thread_unsupported_request` makes it run the loop itself."""
    sent: list[tuple[bool, int]] = []

    def record(response: httpx2.Response) -> None:
        response.read()
        sent.append(("thread" in orjson.loads(response.request.content), response.status_code))

    calls: list[str] = []

    @anthropic.beta_tool
    def get_weather(city: str) -> str:
        """Current weather in a city.

        Args:
            city: the city
        """
        calls.append(city)
        return "21 C"

    http = httpx2.Client(event_hooks={"response": [record]})
    client = anthropic.Anthropic(api_key=API_KEY, base_url=gateway.url, max_retries=0, http_client=http)
    runner = client.beta.messages.tool_runner(
        model="qwq-32b", max_tokens=1024, messages=ASK, tools=[get_weather]
    )
    final = runner.until_done()
    assert calls == ["example"]
    assert final.content[0].type == "text" and final.content[0].text == "The tool returned: 21 C"
    assert sent == [(True, 400), (False, 200), (False, 200)]


def test_count_tokens_matches_the_reported_input_tokens(gateway: LiveServer) -> None:
    client = sdk(gateway)
    counted = client.messages.count_tokens(model="qwq-32b", messages=ASK, system="Be brief.")
    message = client.messages.create(model="qwq-32b", max_tokens=64, messages=ASK, system="Be brief.")
    assert counted.input_tokens == message.usage.input_tokens > 0
    with_tools = client.messages.count_tokens(model="qwq-32b", messages=ASK, tools=[WEATHER_TOOL])
    assert with_tools.input_tokens > client.messages.count_tokens(model="qwq-32b", messages=ASK).input_tokens


def test_models_in_anthropic_shape(gateway: LiveServer) -> None:
    client = sdk(gateway)
    model = client.models.retrieve("qwq-32b")
    assert (model.type, model.id, model.display_name) == ("model", "qwq-32b", "qwq-32b")
    assert [m.id for m in client.models.list()] == ["qwq-32b"]
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-nope")
    body: Any = caught.value.body
    assert body["error"]["type"] == "not_found_error"


def test_unknown_model(gateway: LiveServer) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk(gateway).messages.create(model="claude-nope", max_tokens=64, messages=ASK)
    body: Any = caught.value.body
    assert body["error"]["type"] == "not_found_error" and "claude-nope" in body["error"]["message"]


def test_failure_mid_stream_is_an_error_event(gateway: LiveServer) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        list(
            sdk(gateway).messages.create(
                model="qwq-32b",
                max_tokens=1024,
                messages=[{"role": "user", "content": "hi [sim:disconnect]"}],
                stream=True,
            )
        )
    assert "mid-answer" in str(caught.value)


@pytest.mark.parametrize("stream", [False, True])
def test_stop_sequence(gateway: LiveServer, stream: bool) -> None:
    client = sdk(gateway)
    message: Any
    if stream:
        with client.messages.stream(model="qwq-32b", max_tokens=512, messages=ASK, stop_sequences=["."]) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(
            model="qwq-32b", max_tokens=512, messages=ASK, stop_sequences=["zzz", "."]
        )
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "."
    text = message.content[0]
    assert text.type == "text" and text.text and "." not in text.text


def test_structured_output_through_a_forced_tool(gateway: LiveServer) -> None:
    schema: Any = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 18}},
        "required": ["name", "age"],
    }
    message = sdk(gateway).messages.create(
        model="qwq-32b",
        max_tokens=512,
        messages=ASK,
        tools=[{"name": "record_person", "input_schema": schema}],
        tool_choice={"type": "tool", "name": "record_person"},
    )
    [use] = [block for block in message.content if block.type == "tool_use"]
    assert use.type == "tool_use" and use.name == "record_person"
    Draft202012Validator(schema).validate(use.input)


class Stop(pydantic.BaseModel):
    name: str
    nights: int = pydantic.Field(ge=1)


class Trip(pydantic.BaseModel):
    """pydantic writes `$defs`/`$ref` for `Stop` and `anyOf` with null for the optional note; the SDK
    turns the bound into a description and closes every object (`additionalProperties: false`)."""

    title: str
    mode: Literal["train", "car"]
    stops: list[Stop]
    note: str | None = None


def capturing_sdk(gateway: LiveServer, bodies: list[Any]) -> anthropic.Anthropic:
    """`sdk`, keeping each request body it sends (to check the answer against the schema it sent)."""

    def keep(request: httpx2.Request) -> None:
        bodies.append(orjson.loads(request.read()))

    http = httpx2.Client(event_hooks={"request": [keep]})
    return anthropic.Anthropic(
        api_key=API_KEY, base_url=gateway.url, max_retries=0, timeout=10, http_client=http
    )


@pytest.mark.parametrize("stream", [False, True])
def test_structured_output_parsed_into_a_pydantic_model(gateway: LiveServer, stream: bool) -> None:
    """`messages.parse(output_format=Trip)` and `messages.stream(output_format=Trip)`: the SDK sends
    `output_config.format` (json_schema) and parses the answer into `parsed_output`."""
    bodies: list[Any] = []
    client = capturing_sdk(gateway, bodies)
    ask: Any = [{"role": "user", "content": "Plan a trip"}]
    message: Any
    if stream:
        with client.messages.stream(model="qwq-32b", max_tokens=1024, messages=ask, output_format=Trip) as s:
            message = s.get_final_message()
    else:
        message = client.messages.parse(model="qwq-32b", max_tokens=1024, messages=ask, output_format=Trip)
    trip = message.parsed_output
    assert isinstance(trip, Trip) and trip.mode in ("train", "car") and trip.stops[0].nights >= 1
    assert message.stop_reason == "end_turn"
    (body,) = bodies
    form = body["output_config"]["format"]
    assert form["type"] == "json_schema" and "$defs" in form["schema"]
    Draft202012Validator(form["schema"]).validate(orjson.loads(message.content[-1].text))


def test_structured_output_from_a_schema_in_output_config(gateway: LiveServer) -> None:
    """A hand-written schema in `output_config` on `messages.create`: the text is JSON that meets it."""
    schema: Any = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            "kind": {"enum": ["short", "long"]},
        },
        "required": ["city", "days", "kind"],
        "additionalProperties": False,
    }
    message = sdk(gateway).messages.create(
        model="qwq-32b",
        max_tokens=1024,
        messages=[{"role": "user", "content": "Plan a trip"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    [text] = message.content
    assert text.type == "text"
    Draft202012Validator(schema).validate(orjson.loads(text.text))
