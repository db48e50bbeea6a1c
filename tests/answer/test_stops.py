"""Gateway-side stop sequences: cut at the first match, held-back tails, the upstream closed on a match."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from worker.answer.stops import StopScanner
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

REQUEST = ChatRequest(model="m", messages=(Message(role="user", content="hi"),))


class Upstream:
    """An event source that records whether it was read to the end or closed early."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self.closed_early = False
        self.sent = 0

    async def events(self) -> AsyncIterator[Event]:
        try:
            for text in self.texts:
                self.sent += 1
                yield TextDelta(text)
            yield Finish("length")
            yield UsageEvent(Usage(5, 6))
        except GeneratorExit:
            self.closed_early = True
            raise


async def run(stops: Sequence[str], texts: Sequence[str]) -> tuple[list[Event], StopScanner, Upstream]:
    upstream = Upstream(texts)
    scanner = StopScanner(stops)
    return [e async for e in scanner.apply(upstream.events(), REQUEST)], scanner, upstream


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_without_stops_there_is_nothing_to_apply() -> None:
    assert not StopScanner([]).active and not StopScanner([""]).active and StopScanner(["x"]).active


async def test_match_split_across_deltas_cuts_and_closes_the_upstream() -> None:
    events, scanner, upstream = await run(["END"], ["Hello E", "N", "D and more", "never sent"])
    assert text_of(events) == "Hello " and scanner.matched == "END"
    assert upstream.closed_early and upstream.sent == 3
    finish, usage = events[-2:]
    assert finish == Finish("stop") and isinstance(usage, UsageEvent) and usage.usage.estimated


async def test_a_false_start_is_released() -> None:
    events, scanner, _ = await run(["END"], ["Hello EN", "ough"])
    assert text_of(events) == "Hello ENough" and scanner.matched is None
    assert events[-2] == Finish("length")


async def test_held_tail_is_flushed_before_the_finish() -> None:
    events, _, _ = await run(["END"], ["Hello E"])
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Hello "), TextDelta("E")]
    assert events[2] == Finish("length")


@pytest.mark.parametrize(("stops", "matched"), [(["b", "a"], "a"), (["xyz", "ab"], "ab")])
async def test_earliest_match_wins(stops: list[str], matched: str) -> None:
    events, scanner, _ = await run(stops, ["xab"])
    assert scanner.matched == matched and text_of(events) == "x"


async def test_tool_calls_are_not_scanned() -> None:
    async def source() -> AsyncIterator[Event]:
        yield ToolCallDelta(0, '{"q": "END"}', "c", "f")
        yield Finish("tool_calls")

    scanner = StopScanner(["END"])
    events = [e async for e in scanner.apply(source(), REQUEST)]
    assert events == [ToolCallDelta(0, '{"q": "END"}', "c", "f"), Finish("tool_calls")]


async def _scan(events: Sequence[Event], stops: Sequence[str]) -> list[Event]:
    async def source() -> AsyncIterator[Event]:
        for event in events:
            yield event

    return [e async for e in StopScanner(stops).apply(source(), REQUEST)]


async def test_usage_after_a_stop_counts_the_reasoning_the_client_received() -> None:
    """Reasoning in its own field: counted in completion_tokens and kept as reasoning_tokens."""
    out = await _scan([ReasoningDelta("Let me think it over."), TextDelta("One. Two. Three.")], ["Two"])
    usage = out[-1]
    assert isinstance(usage, UsageEvent)
    assert usage.usage.reasoning_tokens == 6  # "Let", " me", " think", " it", " over", "."
    assert usage.usage.completion_tokens == 6 + 3  # and "One", ".", " " of the answer
    assert usage.usage.estimated


async def test_usage_after_a_stop_counts_inline_reasoning_as_reasoning() -> None:
    out = await _scan([TextDelta("Hmm, fine.</think>\n\nOne. Two.")], ["Two"])
    usage = out[-1]
    assert isinstance(usage, UsageEvent)
    assert usage.usage.reasoning_tokens == 4  # "Hmm", ",", " fine", "."
    assert usage.usage.completion_tokens > usage.usage.reasoning_tokens


async def test_usage_after_a_stop_counts_tool_call_arguments() -> None:
    call = ToolCallDelta(0, '{"city": "Paris"}', "c1", "get_weather")
    out = await _scan([call, TextDelta("done STOP")], ["STOP"])
    usage = out[-1]
    assert isinstance(usage, UsageEvent)
    assert usage.usage.reasoning_tokens is None
    assert usage.usage.completion_tokens > 3  # the call's name and arguments, then " done "
