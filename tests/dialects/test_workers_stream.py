"""The two stream encoders of the `/:modelSlug` dialect, byte for byte, and the in-band error event."""

from __future__ import annotations

from typing import Any

import orjson

from worker.core.errors import BadRequest, UpstreamTimeout
from worker.core.ir import Event, Finish, ReasoningDelta, TextDelta, ToolCallDelta, Usage, UsageEvent
from worker.dialects.workers_stream import ChoicesStreamEncoder, WorkersStreamEncoder, error_event

USAGE = UsageEvent(Usage(4, 3, 1, estimated=True))


def frames(data: bytes) -> list[Any]:
    assert data.endswith(b"\n\n")
    out: list[Any] = []
    for frame in data.split(b"\n\n")[:-1]:
        assert frame.startswith(b"data: ")
        payload = frame.removeprefix(b"data: ")
        out.append("[DONE]" if payload == b"[DONE]" else orjson.loads(payload))
    return out


def encode_all(encoder: WorkersStreamEncoder | ChoicesStreamEncoder, events: list[Event]) -> list[Any]:
    return frames(b"".join(encoder.encode(e) for e in events))


def test_workers_shape() -> None:
    out = encode_all(WorkersStreamEncoder(), [TextDelta("Hel"), TextDelta("lo"), Finish("stop"), USAGE])
    usage: dict[str, Any] = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    usage |= {"completion_tokens_details": {"reasoning_tokens": 1}, "estimated": True}
    assert out == [{"response": "Hel"}, {"response": "lo"}, {"response": "", "usage": usage}, "[DONE]"]


def test_workers_shape_keeps_separate_reasoning_in_its_own_field() -> None:
    """Reasoning that reaches an encoder is the `separate` mode's (inline placement happens earlier,
    in worker/answer/reasoning.py), so it never mixes into `response`."""
    events: list[Event] = [ReasoningDelta("think"), TextDelta("answer"), Finish("stop"), USAGE]
    out = encode_all(WorkersStreamEncoder(), events)
    assert out[0] == {"response": "", "reasoning": "think"}
    assert "".join(f["response"] for f in out[:-1]) == "answer"


def test_workers_shape_sends_tool_calls_whole_at_the_finish() -> None:
    events: list[Event] = [
        ToolCallDelta(0, "", "c1", "get_weather"),
        ToolCallDelta(0, '{"city": '),
        ToolCallDelta(0, '"Oslo"}'),
        Finish("tool_calls"),
        USAGE,
    ]
    out = encode_all(WorkersStreamEncoder(), events)
    assert out[0] == {"response": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}


def test_choices_shape() -> None:
    events: list[Event] = [ReasoningDelta("hmm"), TextDelta("Hi"), Finish("length"), USAGE]
    out = encode_all(ChoicesStreamEncoder("qwq-32b", "abc"), events)
    assert out[-1] == "[DONE]"
    chunks = out[:-1]
    for c in chunks:
        assert (c["id"], c["object"], c["model"]) == ("chatcmpl-abc", "chat.completion.chunk", "qwq-32b")
        assert isinstance(c["created"], int)
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas[0] == {"role": "assistant", "reasoning_content": "hmm"}
    assert all("role" not in d for d in deltas[1:])
    assert "".join(d.get("content", "") for d in deltas) == "Hi"
    finish = chunks[-2]["choices"][0]
    assert finish == {"index": 0, "delta": {}, "finish_reason": "length"}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["estimated"] is True


def test_choices_shape_streams_tool_calls_as_openai_does() -> None:
    events: list[Event] = [
        ToolCallDelta(0, "", "c1", "f"),
        ToolCallDelta(0, "{}"),
        Finish("tool_calls"),
        USAGE,
    ]
    out = encode_all(ChoicesStreamEncoder("m", "r"), events)
    first, second = (c["choices"][0]["delta"]["tool_calls"][0] for c in out[:2])
    assert first == {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    assert second == {"index": 0, "function": {"arguments": "{}"}}
    assert out[2]["choices"][0]["finish_reason"] == "tool_calls"


def test_error_event_carries_message_code_and_detail() -> None:
    assert frames(error_event(UpstreamTimeout("late", {"upstream_status": 504}))) == [
        {"error": "late", "detail": {"code": "upstream_timeout", "upstream_status": 504}}
    ]
    listed = frames(error_event(BadRequest("bad", [{"path": "/x"}])))[0]
    assert listed == {"error": "bad", "detail": {"code": "invalid_request", "info": [{"path": "/x"}]}}


AWKWARD_TEXTS = [
    "plain",
    'a "quote" and a \\ backslash',
    "ünïcödé € 🤔",
    "line\nbreak\ttab",
    "\x00\x1f",
    "</think>",
]


def test_the_direct_text_frames_are_what_the_generic_encoding_writes() -> None:
    """Text deltas skip building a dict; the bytes must be the ones the dict would have given."""
    workers = WorkersStreamEncoder()
    choices = ChoicesStreamEncoder("@cf/qwen/qwq-32b", "rid")
    choices.encode(TextDelta("first"))  # the role goes on the first delta only, through the generic path
    for text in AWKWARD_TEXTS:
        assert workers.encode(TextDelta(text)) == b"data: " + orjson.dumps({"response": text}) + b"\n\n"
        assert choices.encode(TextDelta(text)) == choices._choice({"content": text})
        assert choices.encode(ReasoningDelta(text)) == choices._choice({"reasoning_content": text})
