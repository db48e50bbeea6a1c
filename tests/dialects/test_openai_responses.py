"""The OpenAI Responses dialect: `input` items into the IR, answers and typed stream events, errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import make_settings
from worker.config.models import builtin_table
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, NotFound, RateLimited, UpstreamError
from worker.core.ir import (
    Event,
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from worker.dialects import openai_responses
from worker.dialects.openai_responses_stream import ResponsesStreamEncoder

TABLE = builtin_table(make_settings())
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def parse(**fields: Any) -> openai_responses.ResponsesCall:
    return openai_responses.parse_request({"model": "qwq-32b", "input": "hi", **fields}, TABLE)


def test_a_string_input_is_one_user_turn_after_the_instructions() -> None:
    call = parse(instructions="Be brief.", max_output_tokens=64, temperature=0.2, top_p=0.9, user="u-7")
    request = call.request
    assert request.messages == (Message("system", "Be brief."), Message("user", "hi"))
    assert request.params.max_tokens == 64 and request.params.temperature == 0.2
    assert request.params.top_p == 0.9 and request.user == "u-7"
    assert request.reasoning == "separate" and not request.stream and call.ignored == ()


def test_items_become_ir_turns() -> None:
    items = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
        {"role": "system", "content": "More rules."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look: "},
                {"type": "input_image", "image_url": PIXEL},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": "{}",
        },
        {"type": "function_call", "call_id": "call_b", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "call_a", "output": "21 C"},
        {
            "type": "function_call_output",
            "call_id": "call_b",
            "output": [{"type": "input_text", "text": "3 C"}],
        },
        {"type": "function_call", "call_id": "call_c", "name": "get_weather", "arguments": "{}"},
    ]
    request = parse(input=items, tools=[WEATHER]).request
    assert request.messages == (
        Message("system", (TextPart("Rules."),)),
        Message("system", "More rules."),
        Message("user", (TextPart("Look: "), ImagePart(PIXEL))),
        Message(
            "assistant",
            "Checking.",
            tool_calls=(
                ToolCall("call_a", "get_weather", "{}"),
                ToolCall("call_b", "get_weather", '{"city":"Oslo"}'),
            ),
        ),
        Message("tool", "21 C", tool_call_id="call_a"),
        Message("tool", (TextPart("3 C"),), tool_call_id="call_b"),
        Message("assistant", "", tool_calls=(ToolCall("call_c", "get_weather", "{}"),)),
    )


def test_tools_choice_and_formats() -> None:
    call = parse(
        tools=[WEATHER, {"type": "web_search"}, {"type": "namespace", "name": "agents", "tools": []}],
        tool_choice={"type": "function", "name": "get_weather"},
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}},
    )
    [tool] = call.request.tools
    assert (tool.name, tool.description, tool.parameters) == (
        "get_weather",
        "Current weather",
        WEATHER["parameters"],
    )
    assert call.request.tool_choice == ToolChoice("function", "get_weather")
    assert call.request.response_schema == {"type": "object"} and not call.request.json_mode
    assert call.ignored == ("tools.web_search", "tools.namespace")
    assert parse(text={"format": {"type": "json_object"}}).request.json_mode
    assert parse(tools=[WEATHER], tool_choice="required").request.tool_choice == ToolChoice("required")


def test_what_codex_sends_is_accepted_and_the_unused_named() -> None:
    call = parse(
        stream=True,
        store=True,
        tools=[WEATHER, {"type": "web_search", "external_web_access": False}, {"type": "local_shell"}],
        tool_choice="auto",
        parallel_tool_calls=True,
        reasoning={"effort": "high", "summary": "auto"},
        include=["reasoning.encrypted_content"],
        prompt_cache_key="k-1",
        client_metadata={"x": "y"},
        metadata={"run": "7"},
        text={"verbosity": "low"},
    )
    assert call.request.stream and call.summary
    assert call.ignored == (
        "parallel_tool_calls",
        "metadata",
        "include",
        "prompt_cache_key",
        "client_metadata",
        "store",
        "reasoning.effort",
        "text.verbosity",
        "tools.web_search",
        "tools.local_shell",
    )
    assert parse(store=False, parallel_tool_calls=False).ignored == ()
    assert not parse(reasoning={"effort": "low"}).summary


@pytest.mark.parametrize(
    ("fields", "param", "needle"),
    [
        ({"foo": 1}, "foo", "Unknown parameter: 'foo'"),
        ({"previous_response_id": "resp_1"}, "previous_response_id", "does not store responses"),
        ({"tool_choice": "required"}, "tool_choice", "needs at least one function tool"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice", "'nope'"),
        (
            {
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}
                ]
            },
            None,
            "/input",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, None, "call_id"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"type": "nope"}}]},
            None,
            "/tools/0/parameters",
        ),
        ({"tools": [{"type": "hosted_magic"}]}, None, "/tools/0/type"),
        ({"max_output_tokens": 0}, None, "/max_output_tokens"),
        ({"input": []}, "input", "no message"),
    ],
)
def test_bad_bodies(fields: dict[str, Any], param: str | None, needle: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**fields)
    assert needle in caught.value.message
    if param is not None:
        assert caught.value.detail == {"param": param}


def test_unknown_model() -> None:
    with pytest.raises(NotFound):
        openai_responses.parse_request({"model": "gpt-9", "input": "hi"}, TABLE)


def test_whole_answer() -> None:
    call = parse(reasoning={"summary": "auto"}, tools=[WEATHER], store=True)
    usage = Usage(10, 20, 5)
    completion = Completion(
        "It rains.", "Thinking.", (ToolCall("call_1", "get_weather", "{}"),), usage, "tool_calls"
    )
    body = openai_responses.render_response(completion, call, "r1")
    assert body["id"] == "resp_r1" and body["object"] == "response" and body["status"] == "completed"
    assert body["store"] is False and body["incomplete_details"] is None and body["tools"] == [WEATHER]
    assert body["output"] == [
        {
            "type": "reasoning",
            "id": "rs_r1_0",
            "summary": [{"type": "summary_text", "text": "Thinking."}],
            "content": [{"type": "reasoning_text", "text": "Thinking."}],
            "status": "completed",
        },
        {
            "type": "message",
            "id": "msg_r1_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "It rains.", "annotations": [], "logprobs": []}],
        },
        {
            "type": "function_call",
            "id": "fc_r1_2",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
            "status": "completed",
        },
    ]
    assert body["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 30,
    }


def test_a_cut_answer_is_incomplete() -> None:
    completion = Completion("It ra", "", (), Usage(3, 4, estimated=True), "length")
    body = openai_responses.render_response(completion, parse(max_output_tokens=4), "r2")
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [item["type"] for item in body["output"]] == ["message"]
    assert body["output"][0]["status"] == "incomplete" and body["usage"]["estimated"] is True


def events_of(chunks: bytes) -> list[dict[str, Any]]:
    out = []
    for block in chunks.decode().split("\n\n"):
        if not block:
            continue
        kind_line, data_line = block.split("\n")
        data = orjson.loads(data_line.removeprefix("data: "))
        assert kind_line == f"event: {data['type']}"
        out.append(data)
    return out


def stream(call: openai_responses.ResponsesCall, events: list[Event]) -> list[dict[str, Any]]:
    encoder = ResponsesStreamEncoder(call, "r3")
    return events_of(b"".join(encoder.encode(event) for event in events))


def test_stream_events_in_order() -> None:
    events: list[Event] = [
        ReasoningDelta("Hm"),
        ReasoningDelta("m."),
        TextDelta("Let me "),
        TextDelta("check."),
        ToolCallDelta(0, id="call_1", name="get_weather"),
        ToolCallDelta(0, arguments='{"city":'),
        ToolCallDelta(0, arguments='"Oslo"}'),
        Finish("tool_calls"),
        UsageEvent(Usage(5, 9, 2)),
    ]
    out = stream(parse(reasoning={"summary": "auto"}, tools=[WEATHER]), events)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert [e["type"] for e in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.content_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert out[0]["response"]["status"] == "in_progress" and out[0]["response"]["output"] == []
    assert out[16] == {
        "type": "response.output_text.delta",
        "sequence_number": 16,
        "item_id": "msg_r3_1",
        "output_index": 1,
        "content_index": 0,
        "delta": "Let me ",
        "logprobs": [],
    }
    assert out[24]["arguments"] == '{"city":"Oslo"}' and out[24]["name"] == "get_weather"
    final = out[-1]["response"]
    done_items = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    assert final["id"] == out[0]["response"]["id"] == "resp_r3" and final["status"] == "completed"
    assert final["output"] == done_items
    assert done_items[0]["content"] == [{"type": "reasoning_text", "text": "Hmm."}]
    assert done_items[2]["call_id"] == "call_1" and done_items[2]["id"] == "fc_r3_2"
    assert final["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}


def test_stream_matches_the_whole_answer() -> None:
    """The items a stream ends with are those of the answer to the same request without `stream`."""
    call = parse(max_output_tokens=3)
    events: list[Event] = [ReasoningDelta("a"), TextDelta("b"), Finish("length"), UsageEvent(Usage(1, 3))]
    out = stream(call, events)
    whole = openai_responses.render_response(Completion("b", "a", (), Usage(1, 3), "length"), call, "r3")
    final = out[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["output"] == whole["output"]
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert "response.reasoning_summary_text.delta" not in [e["type"] for e in out]  # no summary asked


def test_stream_with_neither_text_nor_calls_still_has_its_message() -> None:
    out = stream(parse(), [ReasoningDelta("a"), Finish("stop"), UsageEvent(Usage(1, 1))])
    assert [item["type"] for item in out[-1]["response"]["output"]] == ["reasoning", "message"]
    assert out[-1]["response"]["output"][1]["content"][0]["text"] == ""


def test_failure_after_the_first_byte_is_response_failed() -> None:
    encoder = ResponsesStreamEncoder(parse(), "r4")
    started = events_of(encoder.encode(TextDelta("partial")))
    failed = events_of(encoder.error_event(UpstreamError("The upstream failed")))
    assert [e["type"] for e in failed] == ["response.failed"]
    assert failed[0]["sequence_number"] == started[-1]["sequence_number"] + 1
    response = failed[0]["response"]
    assert response["id"] == "resp_r4" and response["status"] == "failed"
    assert response["error"] == {"code": "server_error", "message": "The upstream failed"}
    limited = events_of(ResponsesStreamEncoder(parse(), "r6").error_event(RateLimited()))
    assert limited[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_failure_before_any_event_still_starts_the_response() -> None:
    """A stream whose only bytes were keep-alives: the SDKs want `response.created` before anything."""
    failed = events_of(ResponsesStreamEncoder(parse(), "r5").error_event(UpstreamError()))
    assert [e["type"] for e in failed] == ["response.created", "response.in_progress", "response.failed"]


def test_an_answer_cut_while_reasoning_has_incomplete_reasoning() -> None:
    call = parse(max_output_tokens=2)
    whole = openai_responses.render_response(Completion("", "Hm", (), Usage(1, 2), "length"), call, "r3")
    out = stream(call, [ReasoningDelta("Hm"), Finish("length"), UsageEvent(Usage(1, 2))])
    assert out[-1]["response"]["output"] == whole["output"]
    assert [item["status"] for item in whole["output"]] == ["incomplete", "incomplete"]


def test_with_a_store_a_response_is_stored_unless_store_is_false() -> None:
    body = {"model": "qwq-32b", "input": "hi"}
    assert openai_responses.parse_request(body, TABLE, can_store=True).store is True
    stored = openai_responses.parse_request({**body, "store": True}, TABLE, can_store=True)
    assert stored.store is True and "store" not in stored.ignored
    assert openai_responses.parse_request({**body, "store": False}, TABLE, can_store=True).store is False
    assert parse(store=True).store is False and "store" in parse(store=True).ignored  # no store


def test_a_stored_conversation_comes_before_the_input_and_its_instructions_do_not() -> None:
    history: list[dict[str, Any]] = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Name a colour."}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Red."}]},
    ]
    body = {"model": "qwq-32b", "input": "And another?", "previous_response_id": "resp_1"}
    call = openai_responses.parse_request(body, TABLE, True, history)
    assert [(m.role, m.content) for m in call.request.messages] == [
        ("user", (TextPart("Name a colour."),)),
        ("assistant", "Red."),
        ("user", (TextPart("And another?"),)),
    ]
    answer = openai_responses.render_response(Completion("Blue.", "", (), None, "stop"), call, "r1")
    assert answer["previous_response_id"] == "resp_1" and answer["store"] is True


def test_a_stream_settles_its_response_before_writing_completed() -> None:
    encoder = ResponsesStreamEncoder(
        openai_responses.parse_request(
            {"model": "qwq-32b", "input": "hi", "stream": True}, TABLE, can_store=True
        ),
        "r1",
    )
    encoder.encode(TextDelta("Hello"))
    encoder.encode(Finish("stop"))
    response = encoder.settle(UsageEvent(Usage(1, 1)))
    assert response["output"][0]["content"][0]["text"] == "Hello" and response["store"] is True
    response["store"] = False  # what the surface does when the write failed
    completed = orjson.loads(encoder.encode(UsageEvent(Usage(1, 1))).split(b"data: ")[-1])
    assert completed["type"] == "response.completed" and completed["response"]["store"] is False
