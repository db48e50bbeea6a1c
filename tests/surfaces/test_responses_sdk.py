"""The official `openai` package's Responses API against a live gateway: answers, streams, tools, formats."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseCreatedEvent, ResponseFailedEvent

from tests.conftest import API_KEY, AUTH
from tests.servers import LiveServer

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def sdk(gateway: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(api_key=API_KEY, base_url=f"{gateway.url}/v1", max_retries=0, timeout=10)


def test_create(gateway: LiveServer) -> None:
    response = sdk(gateway).responses.create(
        model="qwq-32b",
        instructions="Be brief.",
        input="What is an edge gateway?",
        reasoning={"summary": "auto"},
    )
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.output_text and "</think>" not in response.output_text
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text.startswith("Okay, the user asks")
    assert reasoning.content is not None and reasoning.content[0].text == reasoning.summary[0].text
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens > 0


def test_cut_by_max_output_tokens(gateway: LiveServer) -> None:
    response = sdk(gateway).responses.create(model="qwq-32b", input="hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert (
        response.incomplete_details is not None and response.incomplete_details.reason == "max_output_tokens"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(gateway: LiveServer, stream: bool) -> None:
    client = sdk(gateway)
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first: Response
    if stream:
        with client.responses.stream(model="qwq-32b", input=history, tools=[WEATHER]) as events:
            deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
            first = events.get_final_response()
    else:
        first = client.responses.create(model="qwq-32b", input=history, tools=[WEATHER])
        deltas = None
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "example"}
    if deltas is not None:
        assert deltas == call.arguments
    # What the SDK's docs do: send the output items back, then the tool's result.
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": "18 C, clear"})
    second = client.responses.create(model="qwq-32b", input=history, tools=[WEATHER])
    assert second.output_text == "The tool returned: 18 C, clear"


class Trip(pydantic.BaseModel):
    city: str
    days: int


def test_structured_output_with_parse(gateway: LiveServer) -> None:
    response = sdk(gateway).responses.parse(model="qwq-32b", input="Plan a trip", text_format=Trip)
    assert response.output_parsed == Trip(city="example", days=1)


def test_stream_text_and_final_response(gateway: LiveServer) -> None:
    with sdk(gateway).responses.stream(
        model="qwq-32b", input="What is an edge gateway?", reasoning={"summary": "detailed"}
    ) as events:
        kinds: list[str] = []
        text = reasoning = ""
        for event in events:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "response.reasoning_summary_text.delta":
                reasoning += event.delta
        final = events.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert text == final.output_text and reasoning.startswith("Okay, the user asks")


def test_create_with_stream_true(gateway: LiveServer) -> None:
    events = list(sdk(gateway).responses.create(model="qwq-32b", input="hi", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].type == "response.completed"


def test_errors_are_sdk_exceptions(gateway: LiveServer) -> None:
    client = sdk(gateway)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwq-32b", input="hi", previous_response_id="resp_1")
    assert caught.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve("resp_1")
    assert missing.value.code == "response_not_found"


def test_keepalives_while_the_model_is_silent(live_gateway_factory: Callable[..., LiveServer]) -> None:
    gateway = live_gateway_factory(simulator_reasoning_field=1, keepalive_interval=0.1)
    body = {"model": "qwq-32b", "input": "hi [sim:slow-start=0.6]", "stream": True}
    raw = httpx.post(f"{gateway.url}/v1/responses", json=body, headers=AUTH, timeout=10).text
    assert raw.startswith(": keep-alive\n\n") and "event: response.completed" in raw
    with sdk(gateway).responses.stream(model="qwq-32b", input="hi [sim:slow-start=0.6]") as events:
        assert events.get_final_response().status == "completed"


def test_a_timeout_after_keepalives_is_response_failed(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    """Only keep-alives went out before the failure: the stream still starts with `response.created`,
    so the SDK reads the failure as an event of this response."""
    gateway = live_gateway_factory(keepalive_interval=0.1, upstream_first_byte_timeout=0.5, retry_attempts=0)
    events = list(sdk(gateway).responses.create(model="qwq-32b", input="hi [sim:slow-start=3]", stream=True))
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.failed"]
    created, failed = events[0], events[-1]
    assert isinstance(created, ResponseCreatedEvent) and isinstance(failed, ResponseFailedEvent)
    assert failed.response.id == created.response.id
    assert failed.response.error is not None and failed.response.error.code == "server_error"
