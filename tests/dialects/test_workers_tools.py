"""The `/:modelSlug` dialect's tool and reasoning parts: parsing `tool_choice`, rendering both shapes."""

from __future__ import annotations

import orjson
import pytest

from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, UpstreamBadResponse
from worker.core.ir import ReasoningDelta, ToolCall, ToolChoice, Usage
from worker.dialects.workers import parse_request, render_completion
from worker.dialects.workers_stream import ChoicesStreamEncoder, WorkersStreamEncoder

BASE = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (None, None),
        ("auto", ToolChoice("auto")),
        ("none", ToolChoice("none")),
        ("required", ToolChoice("required")),
        ({"type": "function", "function": {"name": "f"}}, ToolChoice("function", "f")),
    ],
)
def test_tool_choice_forms(raw: object, parsed: ToolChoice | None) -> None:
    body = {**BASE, "tool_choice": raw} if raw is not None else BASE
    assert parse_request(body, "qwq-32b").tool_choice == parsed


@pytest.mark.parametrize("raw", ["always", 3, {"type": "function"}, {"function": {"name": ""}}])
def test_bad_tool_choice_is_a_400(raw: object) -> None:
    with pytest.raises(BadRequest, match="tool_choice"):
        parse_request({**BASE, "tool_choice": raw}, "qwq-32b")


def completion(reasoning: str = "", calls: tuple[ToolCall, ...] = ()) -> Completion:
    return Completion("answer", reasoning, calls, Usage(1, 2, 1), "tool_calls" if calls else "stop")


def test_separate_reasoning_in_both_shapes() -> None:
    workers = render_completion(completion("why"), "workers", "qwq-32b", "r1")
    assert (workers["response"], workers["reasoning"]) == ("answer", "why")
    message = render_completion(completion("why"), "choices", "qwq-32b", "r1")["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("answer", "why")
    assert "reasoning" not in render_completion(completion(), "workers", "qwq-32b", "r1")


def test_invalid_tool_arguments_are_an_upstream_error_in_both_shapes() -> None:
    bad = completion(calls=(ToolCall("call000000001", "f", "{nope"),))
    for shape in ("workers", "choices"):
        with pytest.raises(UpstreamBadResponse, match="not valid JSON"):
            render_completion(bad, shape, "qwq-32b", "r1")


def test_stream_encoders_put_reasoning_in_its_own_field() -> None:
    assert orjson.loads(WorkersStreamEncoder().encode(ReasoningDelta("hm"))[6:]) == {
        "response": "",
        "reasoning": "hm",
    }
    chunk = orjson.loads(ChoicesStreamEncoder("qwq-32b", "r1").encode(ReasoningDelta("hm"))[6:])
    assert chunk["choices"][0]["delta"] == {"role": "assistant", "reasoning_content": "hm"}
