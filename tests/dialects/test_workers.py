"""The /:modelSlug dialect: parsing into the IR and rendering, byte for byte."""

from __future__ import annotations

import orjson
import pytest

from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, UpstreamBadResponse, UpstreamError
from worker.core.ir import Finish, ImagePart, TextDelta, TextPart, ToolCall, ToolCallDelta, Usage, UsageEvent
from worker.dialects.workers import parse_request, render_completion, render_error
from worker.dialects.workers_stream import ChoicesStreamEncoder, WorkersStreamEncoder, error_event

USAGE = Usage(5, 7)


def test_prompt_becomes_one_user_message() -> None:
    request = parse_request(
        {"prompt": "hi", "max_tokens": 256, "temperature": 0.15, "stream": False}, "qwq-32b"
    )
    assert [(m.role, m.content) for m in request.messages] == [("user", "hi")]
    assert request.prompt is None and request.params.max_tokens == 256 and request.params.temperature == 0.15


def test_raw_prompt_stays_a_prompt() -> None:
    request = parse_request({"prompt": "<|im_start|>x", "raw": True}, "qwq-32b")
    assert request.raw and request.prompt == "<|im_start|>x" and request.messages == ()


def test_messages_content_shapes_tools_and_history() -> None:
    params = {"type": "object", "properties": {}}
    body = {
        "messages": [
            {"role": "system", "content": "s"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {"url": "data:x"}},
                ],
            },
            {"role": "user", "content": {"type": "text", "text": "b"}},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"x": 1}}}],
            },
            {"role": "tool", "content": "42", "tool_call_id": "000000001"},
        ],
        "tools": [
            {"name": "f", "description": "flat", "parameters": params},
            {"type": "function", "function": {"name": "g", "description": "nested", "parameters": params}},
        ],
        "guided_json": {"type": "object"},
    }
    request = parse_request(body, "qwq-32b")
    assert request.messages[1].content == (TextPart("a"), ImagePart("data:x"))
    assert request.messages[2].content == (TextPart("b"),)
    assert request.messages[3].tool_calls == (ToolCall("c1", "f", '{"x":1}'),)
    assert request.messages[4].tool_call_id == "000000001"
    assert [t.name for t in request.tools] == ["f", "g"] and request.response_schema == {"type": "object"}


def test_functions_are_refused() -> None:
    with pytest.raises(BadRequest):
        parse_request({"messages": [], "functions": [{"name": "f", "code": "x"}]}, "qwq-32b")


def test_workers_shape_bytes() -> None:
    done = Completion("Hi", "", (), USAGE, "stop")
    assert orjson.dumps(render_completion(done, "workers", "qwq-32b", "r1")) == (
        b'{"response":"Hi","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}'
    )
    calls = Completion("", "", (ToolCall("c1", "f", '{"a":1}'),), USAGE, "tool_calls")
    rendered = render_completion(calls, "workers", "qwq-32b", "r1")
    assert rendered["tool_calls"] == [{"name": "f", "arguments": {"a": 1}}] and rendered["response"] == ""


def test_choices_shape() -> None:
    done = Completion("Hi", "", (ToolCall("c1", "f", "{}"),), USAGE, "tool_calls")
    out = render_completion(done, "choices", "qwq-32b", "r1")
    assert out["id"] == "chatcmpl-r1" and out["object"] == "chat.completion" and out["model"] == "qwq-32b"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "tool_calls",
        }
    ]
    assert out["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"'])
def test_tool_arguments_must_be_a_json_object(arguments: str) -> None:
    done = Completion("", "", (ToolCall("c1", "f", arguments),), USAGE, "tool_calls")
    for shape in ("workers", "choices"):
        with pytest.raises(UpstreamBadResponse):
            render_completion(done, shape, "qwq-32b", "r1")


def test_reasoning_kept_apart_renders_as_its_own_field() -> None:
    """Placement (inline, separate, hidden) happens before rendering (worker/answer/reasoning.py): reasoning
    that reaches the renderer is the `separate` mode's."""
    done = Completion("Answer", "Thinking", (), USAGE, "stop")
    workers_shape = render_completion(done, "workers", "m", "r")
    assert workers_shape["response"] == "Answer" and workers_shape["reasoning"] == "Thinking"
    choices = render_completion(done, "choices", "m", "r")
    assert choices["choices"][0]["message"]["reasoning_content"] == "Thinking"


def test_error_bodies() -> None:
    assert render_error(BadRequest("Invalid payload: x", [{"path": "/", "message": "m"}])) == {
        "error": "Invalid payload: x",
        "detail": [{"path": "/", "message": "m"}],
    }
    # nothing more to say: `detail` still there, carrying the machine code
    assert render_error(UpstreamError()) == {
        "error": "Upstream model error",
        "detail": {"code": "upstream_error"},
    }
    assert (
        error_event(UpstreamError("boom")) == b'data: {"error":"boom","detail":{"code":"upstream_error"}}\n\n'
    )


def test_workers_stream_bytes() -> None:
    encoder = WorkersStreamEncoder()
    out = b"".join(
        encoder.encode(e)
        for e in (
            TextDelta("Hel"),
            TextDelta("lo"),
            ToolCallDelta(0, "", "c1", "f"),
            ToolCallDelta(0, '{"a":'),
            ToolCallDelta(0, "1}"),
            Finish("tool_calls"),
            UsageEvent(USAGE),
        )
    )
    assert out == (
        b'data: {"response":"Hel"}\n\n'
        b'data: {"response":"lo"}\n\n'
        b'data: {"response":"","tool_calls":[{"name":"f","arguments":{"a":1}}]}\n\n'
        b'data: {"response":"","usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}\n\n'
        b"data: [DONE]\n\n"
    )


def test_choices_stream_chunks() -> None:
    encoder = ChoicesStreamEncoder("qwq-32b", "r1")
    chunks = [encoder.encode(e) for e in (TextDelta("Hi"), TextDelta("!"), Finish("stop"), UsageEvent(USAGE))]
    decoded = [orjson.loads(c.split(b"\n\n")[0][len(b"data: ") :]) for c in chunks]
    assert all(d["id"] == "chatcmpl-r1" and d["model"] == "qwq-32b" for d in decoded)
    assert all(d["object"] == "chat.completion.chunk" for d in decoded)
    assert decoded[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert decoded[1]["choices"][0]["delta"] == {"content": "!"}
    assert decoded[2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert decoded[3]["choices"] == [] and decoded[3]["usage"]["total_tokens"] == 12
    assert chunks[3].endswith(b"data: [DONE]\n\n")
