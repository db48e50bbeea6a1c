"""`POST /v1/responses` and `GET /v1/responses/{id}` through the app (in-process, simulator upstream)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import AUTH

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def events_of(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
            out.append(orjson.loads(lines[1].removeprefix("data: ")))
    return out


async def ask(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/responses", json={"model": "qwq-32b", **body}, headers=AUTH)


async def test_plain_answer(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="What is an edge gateway?", store=False)
    body = r.json()
    assert r.status_code == 200 and "x-gateway-ignored-fields" not in r.headers
    assert body["id"] == f"resp_{r.headers['x-request-id']}" and body["status"] == "completed"
    reasoning, message = body["output"]
    assert reasoning["type"] == "reasoning" and reasoning["content"][0]["text"].startswith(
        "Okay, the user asks"
    )
    assert reasoning["summary"] == []
    assert message["role"] == "assistant" and message["content"][0]["text"]
    assert "</think>" not in message["content"][0]["text"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0


async def test_store_true_is_stored_and_said_so(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="hi", store=True, metadata={"k": "v"})
    assert r.status_code == 200 and r.json()["store"] is True
    assert r.headers["x-gateway-ignored-fields"] == "metadata"
    assert r.json()["metadata"] == {"k": "v"}
    kept = await client.get(f"/v1/responses/{r.json()['id']}", headers=AUTH)
    assert kept.status_code == 200 and kept.json() == r.json()


async def test_unknown_stored_responses_are_not_found(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/responses/resp_123", headers=AUTH)
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["code"] == "response_not_found" and error["type"] == "invalid_request_error"
    assert error["message"] == "Response with id 'resp_123' not found."
    r = await client.get("/v1/responses/resp_123")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


async def test_previous_response_id_is_refused(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="and then?", previous_response_id="resp_123")
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "previous_response_id"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["code"] == "previous_response_not_found"


async def test_unknown_field_and_bad_values_in_openai_shape(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="hi", n=2)
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "Unknown parameter: 'n'.",
        "type": "invalid_request_error",
        "param": "n",
        "code": "unknown_parameter",
    }
    r = await ask(client, input="hi", temperature=5)
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    r = await ask(client, input="hi", model="gpt-9")
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = await client.post("/v1/responses", json={"model": "qwq-32b", "input": "hi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


async def test_tool_round_trip(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="Weather in Oslo?", tools=[WEATHER, {"type": "web_search"}])
    assert r.headers["x-gateway-ignored-fields"] == "tools.web_search"
    [call] = [item for item in r.json()["output"] if item["type"] == "function_call"]
    assert call["name"] == "get_weather" and orjson.loads(call["arguments"]) == {"city": "example"}
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "type": "function_call",
            "call_id": call["call_id"],
            "name": call["name"],
            "arguments": call["arguments"],
        },
        {"type": "function_call_output", "call_id": call["call_id"], "output": "3 C and snowing"},
    ]
    r = await ask(client, input=history, tools=[WEATHER])
    message = r.json()["output"][-1]
    assert message["type"] == "message"
    assert message["content"][0]["text"] == "The tool returned: 3 C and snowing"


async def test_structured_output(client: httpx.AsyncClient) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    text = {"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}}
    r = await ask(client, input="A city, please", text=text)
    assert r.json()["text"] == text
    assert orjson.loads(r.json()["output"][-1]["content"][0]["text"]) == {"city": "example"}


async def test_length_cut_is_incomplete(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="hi", max_output_tokens=16)
    body = r.json()
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] == 16


async def test_stream_ends_with_the_whole_response(client: httpx.AsyncClient) -> None:
    r = await ask(
        client, input="Weather in Oslo?", tools=[WEATHER], stream=True, reasoning={"summary": "auto"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in r.text
    events = events_of(r.text)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert (
        "response.reasoning_summary_text.delta" in kinds and "response.function_call_arguments.delta" in kinds
    )
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "function_call"]
    arguments = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    assert final["output"][1]["arguments"] == arguments == '{"city":"example"}'


async def test_streamed_length_cut_is_response_incomplete(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="hi", max_output_tokens=70, stream=True)
    last = events_of(r.text)[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_failure_before_the_first_byte_is_a_json_error(
    client: httpx.AsyncClient, stream: bool
) -> None:
    r = await ask(client, input="hi [sim:error-503]", stream=stream)
    assert r.status_code >= 500 and r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["type"] in ("server_error", "rate_limit_error")


async def test_failure_mid_stream_is_response_failed(client: httpx.AsyncClient) -> None:
    r = await ask(client, input="hi [sim:disconnect]", stream=True)
    events = events_of(r.text)
    assert r.status_code == 200 and events[0]["type"] == "response.created"
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["id"] == events[0]["response"]["id"]
    assert failed["response"]["status"] == "failed" and failed["response"]["error"]["code"]
    assert failed["sequence_number"] == len(events) - 1
