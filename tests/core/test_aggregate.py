from __future__ import annotations

import dataclasses

import pytest

from worker.core.aggregate import Aggregator, Completion
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


def test_with_usage_keeps_every_other_field_as_replace_would() -> None:
    """`with_usage` calls the constructor field by field (cheaper than `dataclasses.replace`); a field
    added to `Completion` and forgotten there would be dropped. Every field here holds a value of its
    own, so any field not carried makes the two differ."""
    values = {f.name: object() for f in dataclasses.fields(Completion)}
    completion = Completion(**values)  # type: ignore[arg-type]
    usage = Usage(3, 4)
    assert completion.with_usage(usage) == dataclasses.replace(completion, usage=usage)
