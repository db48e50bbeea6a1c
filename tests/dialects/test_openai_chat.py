"""The OpenAI chat-completions dialect: parsing into the IR, and answers, chunks and errors byte for byte."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import make_settings
from worker.config.models import builtin_table
from worker.core.aggregate import Completion
from worker.core.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UpstreamTimeout,
)
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
from worker.dialects import openai_chat

TABLE = builtin_table(make_settings())
HI: Any = [{"role": "user", "content": "hi"}]


def parse(**fields: Any) -> openai_chat.OpenAIChat:
    return openai_chat.parse_request({"model": "qwq-32b", "messages": HI, **fields}, TABLE)


def test_messages_become_ir_turns() -> None:
    call: Any = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    chat = parse(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ]
    )
    system, user, assistant, tool = chat.request.messages
    assert (system.role, system.content) == ("system", "Be brief.")
    assert user.content == (TextPart("Look:"), ImagePart("data:image/png;base64,AA=="))
    assert assistant.content == "" and assistant.tool_calls == (ToolCall("call_1", "f", '{"a":1}'),)
    assert (tool.role, tool.tool_call_id, tool.content) == ("tool", "call_1", "42")
    assert chat.request.reasoning == "separate" and chat.model == "qwq-32b" and chat.entry.slug == "qwq-32b"


def test_sampling_fields_and_options() -> None:
    chat = parse(
        max_tokens=10,
        max_completion_tokens=20,
        stop="END",
        seed=5,
        user="u",
        temperature=0.5,
        presence_penalty=0.1,
        stream=True,
        stream_options={"include_usage": True},
        parallel_tool_calls=True,
        logprobs=False,
    )
    params = chat.request.params
    assert (params.max_tokens, params.stop, params.seed, params.temperature) == (20, ("END",), 5, 0.5)
    assert params.presence_penalty == 0.1 and chat.request.user == "u" and chat.request.stream
    assert chat.include_usage and chat.ignored == ("parallel_tool_calls",)


def test_tools_choice_and_response_formats() -> None:
    tool: Any = {"type": "function", "function": {"name": "f"}}
    chat = parse(tools=[tool], tool_choice={"type": "function", "function": {"name": "f"}})
    assert chat.request.tools[0].parameters == {"type": "object", "properties": {}}
    assert chat.request.tool_choice == ToolChoice("function", "f")
    assert parse(tools=[tool], tool_choice="required").request.tool_choice == ToolChoice("required")
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    structured = parse(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    assert structured.request.response_schema == schema and not structured.request.json_mode
    assert parse(response_format={"type": "json_object"}).request.json_mode


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"n": 2}, "n=1"),
        ({"tool_choice": "required"}, "needs at least one tool"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "'g'",
        ),
        ({"temperature": 3}, "/temperature"),
        ({"messages": [{"role": "function", "content": "x"}]}, "/messages/0/role"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}
                ]
            },
            "url",
        ),
        ({"functions": []}, "'functions' was unexpected"),
    ],
)
def test_bad_bodies(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**fields)
    assert needle in caught.value.message


def test_unknown_model() -> None:
    with pytest.raises(NotFound) as caught:
        openai_chat.parse_request({"model": "gpt-x", "messages": HI}, TABLE)
    assert openai_chat.error_body(caught.value)["error"]["code"] == "model_not_found"


def test_render_completion() -> None:
    completion = Completion("4", "2+2", (ToolCall("c1", "f", "{}"),), Usage(3, 4), "tool_calls")
    body = openai_chat.render_completion(completion, "qwq-32b", "rid")
    assert body["id"] == "chatcmpl-rid" and isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "4",
                "reasoning_content": "2+2",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_stream_chunks_byte_for_byte() -> None:
    encoder = openai_chat.ChatStreamEncoder("qwq-32b", "rid", include_usage=True)
    head = encoder._head.decode()
    out = b"".join(
        encoder.encode(e)
        for e in (
            ReasoningDelta("hm"),
            TextDelta("Hi"),
            ToolCallDelta(0, "", "c1", "f"),
            ToolCallDelta(0, "{}"),
            Finish("tool_calls"),
            UsageEvent(Usage(1, 2)),
        )
    ).decode()
    choice = ',"logprobs":null,"finish_reason":'
    assert out == (
        f'data: {head}"choices":[{{"index":0,"delta":{{"role":"assistant",'
        f'"reasoning_content":"hm"}}{choice}null}}]}}\n\n'
        f'data: {head}"choices":[{{"index":0,"delta":{{"content":"Hi"}}{choice}null}}]}}\n\n'
        f'data: {head}"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"id":"c1","type":"function",'
        f'"function":{{"name":"f","arguments":""}}}}]}}{choice}null}}]}}\n\n'
        f'data: {head}"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,'
        f'"function":{{"arguments":"{{}}"}}}}]}}'
        f"{choice}null}}]}}\n\n"
        f'data: {head}"choices":[{{"index":0,"delta":{{}}{choice}"tool_calls"}}]}}\n\n'
        f'data: {head}"choices":[],"usage":{{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}}}\n\n'
        "data: [DONE]\n\n"
    )
    assert head.startswith('{"id":"chatcmpl-rid","object":"chat.completion.chunk","created":')
    assert head.endswith(',"model":"qwq-32b",')


def test_without_include_usage_the_stream_ends_with_done_only() -> None:
    encoder = openai_chat.ChatStreamEncoder("m", "r", include_usage=False)
    assert encoder.encode(UsageEvent(Usage(1, 2))) == b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (Unauthorized(detail="The API key is not valid"), 401, "invalid_request_error", "invalid_api_key"),
        (PayloadTooLarge(), 413, "invalid_request_error", "payload_too_large"),
        (RateLimited(), 429, "rate_limit_error", "rate_limit_exceeded"),
        (UpstreamTimeout(), 504, "server_error", "upstream_timeout"),
    ],
)
def test_errors(error: Any, status: int, kind: str, code: str) -> None:
    body = openai_chat.error_body(error)
    assert openai_chat.error_status(error) == status
    assert (body["error"]["type"], body["error"]["code"], body["error"]["param"]) == (kind, code, None)
    assert openai_chat.error_event(error) == b"data: " + orjson.dumps(body) + b"\n\n"


def test_bad_request_param_is_the_first_violation() -> None:
    error = BadRequest("Invalid request", [{"path": "/messages/0/role", "message": "x"}])
    assert openai_chat.error_body(error)["error"]["param"] == "messages.0.role"


def test_the_direct_content_chunks_are_what_the_generic_encoding_writes() -> None:
    """Content deltas after the first skip building dicts; the bytes must be the same."""
    encoder = openai_chat.ChatStreamEncoder("qwq-32b", "rid", include_usage=True)
    encoder.encode(TextDelta("first"))  # the role goes on the first delta only, through the generic path
    for text in ["plain", 'a "quote" and a \\ backslash', "ünïcödé € 🤔", "line\nbreak\ttab", "\x00\x1f", ""]:
        assert encoder.encode(TextDelta(text)) == encoder._choice({"content": text})
        assert encoder.encode(ReasoningDelta(text)) == encoder._choice({"reasoning_content": text})
