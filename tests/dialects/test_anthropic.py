"""The Anthropic Messages dialect: parsing into the IR, and messages, events and errors byte for byte."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import make_settings
from worker.config.models import builtin_table
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized, UpstreamError
from worker.core.ir import (
    Finish,
    ImagePart,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from worker.core.tokenizer import prompt_tokens
from worker.dialects import anthropic

TABLE = builtin_table(make_settings())
HI: Any = [{"role": "user", "content": "hi"}]
TOOL: Any = {"name": "f", "input_schema": {"type": "object", "properties": {}}}


def parse(**fields: Any) -> anthropic.AnthropicCall:
    return anthropic.parse_request({"model": "qwq-32b", "max_tokens": 64, "messages": HI, **fields}, TABLE)


def test_blocks_become_ir_turns() -> None:
    call = parse(
        system=[{"type": "text", "text": "Be"}, {"type": "text", "text": "brief."}],
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "Calling."},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And this:"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "cold", "is_error": True},
                ],
            },
        ],
        tools=[TOOL],
    )
    system, user, assistant, tool, user2 = call.request.messages
    assert (system.role, system.content) == ("system", "Be\n\nbrief.")
    assert (user.role, user.content) == ("user", "Weather?")
    assert assistant.content == "Calling."
    assert assistant.tool_calls == (ToolCall("toolu_1", "f", '{"city":"Oslo"}'),)
    assert (tool.role, tool.tool_call_id, tool.content) == ("tool", "toolu_1", "Error: cold")
    assert user2.content == (TextPart("And this:"), ImagePart("data:image/png;base64,AA=="))
    assert call.request.reasoning == "hidden" and not call.thinking


def test_fields_choices_and_ignored() -> None:
    call = parse(
        stop_sequences=["###"],
        temperature=0.2,
        top_k=5,
        metadata={"user_id": "u1"},
        tools=[TOOL],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 10},
        service_tier="auto",
        stream=True,
    )
    request = call.request
    assert request.params.stop == ("###",) and request.params.max_tokens == 64 and request.params.top_k == 5
    assert request.user == "u1" and request.stream and request.tool_choice == ToolChoice("required")
    assert call.thinking and request.reasoning == "separate"
    assert call.ignored == ("service_tier", "thinking.budget_tokens", "tool_choice.disable_parallel_tool_use")
    assert parse(tools=[TOOL], tool_choice={"type": "tool", "name": "f"}).request.tool_choice == ToolChoice(
        "function", "f"
    )
    assert parse(tool_choice={"type": "none"}).request.tool_choice == ToolChoice("none")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"max_tokens": 0}, "/max_tokens"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "/messages/0/role"),
        ({"tool_choice": {"type": "any"}}, "needs at least one tool"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "g"}}, "'g'"),
        ({"thinking": {"type": "enabled", "budget_tokens": 64}}, "greater than thinking.budget_tokens"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "x"}}]}
                ]
            },
            "/messages/0/content/0/source",
        ),
        ({"temperature": 2}, "/temperature"),
        ({"n": 1}, "n: Extra inputs are not permitted"),
    ],
)
def test_bad_bodies(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**fields)
    assert needle in caught.value.message


def test_unknown_model() -> None:
    with pytest.raises(NotFound):
        anthropic.parse_request({"model": "claude-x", "max_tokens": 5, "messages": HI}, TABLE)


def test_render_message() -> None:
    call = parse(thinking={"type": "enabled", "budget_tokens": 10})
    completion = Completion("", "hm", (ToolCall("toolu_1", "f", '{"a":1}'),), Usage(3, 4), "tool_calls")
    assert anthropic.render_message(completion, call, "rid") == {
        "id": "msg_rid",
        "type": "message",
        "role": "assistant",
        "model": "qwq-32b",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": ""},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    hidden = anthropic.render_message(Completion("ok", "hm", (), None, "stop"), parse(), "r", "###")
    assert hidden["content"] == [{"type": "text", "text": "ok"}]
    assert (hidden["stop_reason"], hidden["stop_sequence"]) == ("stop_sequence", "###")


def test_stream_events_byte_for_byte() -> None:
    call = parse(thinking={"type": "enabled", "budget_tokens": 10})
    encoder = anthropic.MessageStreamEncoder(call, "rid")
    prompt = prompt_tokens(call.request)
    out = b"".join(
        encoder.encode(e)
        for e in (
            ReasoningDelta("hm"),
            TextDelta("Hi"),
            ToolCallDelta(0, "", "toolu_1", "f"),
            ToolCallDelta(0, '{"a":1}'),
            Finish("tool_calls"),
            UsageEvent(Usage(3, 4)),
        )
    ).decode()
    assert out == (
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"msg_rid","type":"message","role":"assistant",'
        '"model":"qwq-32b","content":[],"stop_reason":null,"stop_sequence":null,'
        f'"usage":{{"input_tokens":{prompt},"output_tokens":0}}}}}}\n\n'
        'event: ping\ndata: {"type":"ping"}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":2,'
        '"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":2,'
        '"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":1}"}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":2}\n\n'
        "event: message_delta\n"
        'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
        '"usage":{"input_tokens":3,"output_tokens":4}}\n\n'
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert prompt > 0  # message_start carries an estimate: the upstream's count comes with the usage


def test_reasoning_is_left_out_unless_thinking_is_enabled() -> None:
    encoder = anthropic.MessageStreamEncoder(parse(), "rid")
    out = encoder.encode(ReasoningDelta("secret")) + encoder.encode(TextDelta("Hi"))
    assert b"secret" not in out and b'"index":0,"content_block":{"type":"text"' in out


def test_stop_sequence_reported_in_message_delta() -> None:
    encoder = anthropic.MessageStreamEncoder(parse(), "rid", lambda: "###")
    out = encoder.encode(Finish("stop")) + encoder.encode(UsageEvent(Usage(1, 1)))
    assert b'"delta":{"stop_reason":"stop_sequence","stop_sequence":"###"}' in out


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (BadRequest("Invalid request: /x"), "invalid_request_error"),
        (Unauthorized(detail="The API key is not valid"), "authentication_error"),
        (NotFound("model: x"), "not_found_error"),
        (PayloadTooLarge(), "request_too_large"),
        (UpstreamError(), "api_error"),
    ],
)
def test_errors(error: Any, kind: str) -> None:
    body = anthropic.error_body(error)
    assert body == {"type": "error", "error": {"type": kind, "message": body["error"]["message"]}}
    assert anthropic.error_event(error) == (
        b"event: error\ndata: " + orjson.dumps({"type": "error", "error": body["error"]}) + b"\n\n"
    )


def test_cache_control_anywhere_is_named_as_ignored() -> None:
    block: Any = {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    assert parse(messages=[{"role": "user", "content": [block]}]).ignored == ("cache_control",)
    assert parse(system=[block]).ignored == ("cache_control",)
    assert parse(tools=[{**TOOL, "cache_control": {"type": "ephemeral"}}]).ignored == ("cache_control",)
    assert parse().ignored == ()


def test_system_turns_stay_in_place_and_history_blocks_are_read() -> None:
    call = parse(
        messages=[
            {"role": "user", "content": "Read this."},
            {"role": "system", "content": [{"type": "text", "text": "Env: linux"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I will look.", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Looking."},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "text", "data": "Body."}, "title": "Doc"},
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JV"},
                    },
                    {
                        "type": "search_result",
                        "source": "s",
                        "title": "T",
                        "content": [{"type": "text", "text": "x"}],
                    },
                ],
            },
        ]
    )
    user, system, assistant, documents = call.request.messages
    assert (user.role, system.role, system.content) == ("user", "system", "Env: linux")
    assert (assistant.role, assistant.content) == ("assistant", "Looking.")  # thinking is not prompt text
    assert documents.content == (TextPart("Doc\nBody."), TextPart("T (s)\nx"))
    assert call.ignored == ("content.document",)  # the PDF the model cannot read


def test_anthropic_defined_tools_are_offered_and_server_tools_are_not() -> None:
    call = parse(
        tools=[
            TOOL,
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
            {"type": "web_search_20250305", "name": "web_search"},
        ]
    )
    names = [t.name for t in call.request.tools]
    assert names == ["f", "bash", "str_replace_based_edit_tool"]
    assert call.request.tools[1].parameters["properties"]["command"] == {
        "type": "string",
        "description": "The shell command to run",
    }
    assert call.ignored == ("tools.web_search_20250305",)


def test_thinking_modes_and_output_config() -> None:
    assert parse(thinking={"type": "adaptive"}).thinking
    assert not parse(thinking={"type": "adaptive", "display": "omitted"}).thinking
    assert not parse(thinking={"type": "disabled"}).thinking
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    call = parse(output_config={"effort": "high", "format": {"type": "json_schema", "schema": schema}})
    assert call.request.response_schema == schema and call.ignored == ("output_config.effort",)
    with pytest.raises(BadRequest) as caught:
        parse(output_config={"format": {"type": "json_schema", "schema": {"type": 5}}})
    assert "/output_config/format/schema" in caught.value.message


def test_thread_is_refused_with_details() -> None:
    with pytest.raises(BadRequest) as caught:
        parse(thread={"type": "create"})
    body = anthropic.error_body(caught.value)
    assert body["error"]["details"] == {"error_code": "thread_unsupported_request", "unsupported": ["thread"]}


def test_count_input_tokens_counts_the_prompt_and_the_tools() -> None:
    bare = anthropic.parse_request({"model": "qwq-32b", "messages": HI}, TABLE, counting=True)
    assert anthropic.count_input_tokens(bare) == prompt_tokens(bare.request)
    tooled = anthropic.parse_request(
        {"model": "qwq-32b", "messages": HI, "tools": [TOOL]}, TABLE, counting=True
    )
    assert anthropic.count_input_tokens(tooled) > anthropic.count_input_tokens(bare)


BROKEN_SCHEMA: Any = {"type": "object", "else": []}  # `else` must be a schema


def test_only_a_custom_tools_input_schema_is_held_to_json_schema() -> None:
    """An Anthropic-defined client tool gets the API's own schema and a server tool is left out, so a
    schema either carries never reaches the model and is not refused; a custom tool's is refused."""
    server = {"type": "web_search_20250305", "name": "web_search", "input_schema": BROKEN_SCHEMA}
    client = {"type": "bash_20250124", "name": "bash", "input_schema": BROKEN_SCHEMA}
    call = parse(tools=[server, client])
    assert [tool.name for tool in call.request.tools] == ["bash"]
    assert call.request.tools[0].parameters != BROKEN_SCHEMA
    for custom in (
        {"name": "f", "input_schema": BROKEN_SCHEMA},
        {**TOOL, "type": "custom", "input_schema": BROKEN_SCHEMA},
    ):
        with pytest.raises(BadRequest) as caught:
            parse(tools=[custom])
        assert "/tools/0/input_schema/else" in str(caught.value)
