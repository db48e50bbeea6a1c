from __future__ import annotations

import pytest

from worker.core.aggregate import Aggregator
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import Finish, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta, Usage, UsageEvent


def test_folds_text_reasoning_calls_and_usage() -> None:
    fold = Aggregator()
    for event in (
        ReasoningDelta("think "),
        ReasoningDelta("more"),
        TextDelta("ans"),
        TextDelta("wer"),
        ToolCallDelta(1, "", "c2", "g"),
        ToolCallDelta(0, "", "c1", "f"),
        ToolCallDelta(0, '{"a":'),
        ToolCallDelta(1, "{}"),
        ToolCallDelta(0, "1}"),
        Finish("tool_calls"),
        UsageEvent(Usage(1, 2)),
    ):
        fold.add(event)
    result = fold.result()
    assert (result.text, result.reasoning) == ("answer", "think more")
    assert result.tool_calls == (ToolCall("c1", "f", '{"a":1}'), ToolCall("c2", "g", "{}"))
    assert result.finish_reason == "tool_calls" and result.usage == Usage(1, 2)


def test_finish_reason_defaults() -> None:
    plain = Aggregator()
    plain.add(TextDelta("x"))
    assert plain.result().finish_reason == "stop" and plain.result().usage is None
    calls = Aggregator()
    calls.add(ToolCallDelta(0, "{}", "c", "f"))
    assert calls.result().finish_reason == "tool_calls"


def test_a_call_without_a_name_is_an_upstream_error() -> None:
    fold = Aggregator()
    fold.add(ToolCallDelta(0, "{}"))
    with pytest.raises(UpstreamBadResponse):
        fold.result()
