"""Fold a stream of answer events into one completion.

Non-streamed answers are built here from the same events a stream would carry, so the two answers to
one request cannot differ in text, tool calls or usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from worker.core.errors import UpstreamBadResponse
from worker.core.ir import (
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)


@dataclass(slots=True)
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    reasoning: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None
    finish_reason: FinishReason

    def with_usage(self, usage: Usage | None) -> Completion:
        """This completion with another usage (priced): the constructor, cheaper than `replace`."""
        return Completion(self.text, self.reasoning, self.tool_calls, usage, self.finish_reason)


class Aggregator:
    """Collects events one at a time; `result()` gives the completion so far."""

    __slots__ = ("_calls", "_finish", "_reasoning", "_text", "_usage")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, _PendingCall] = {}
        self._usage: Usage | None = None
        self._finish: FinishReason | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolCallDelta):
            call = self._calls.setdefault(event.index, _PendingCall())
            if event.id:
                call.id = event.id
            if event.name:
                call.name = event.name
            call.arguments.append(event.arguments)
        elif isinstance(event, UsageEvent):
            self._usage = event.usage
        elif isinstance(event, Finish):
            self._finish = event.reason

    def result(self) -> Completion:
        calls = []
        for index in sorted(self._calls):
            pending = self._calls[index]
            if not pending.name:
                raise UpstreamBadResponse("The upstream sent a tool call without a function name")
            calls.append(ToolCall(pending.id, pending.name, "".join(pending.arguments)))
        finish = self._finish or ("tool_calls" if calls else "stop")
        return Completion(
            text="".join(self._text),
            reasoning="".join(self._reasoning),
            tool_calls=tuple(calls),
            usage=self._usage,
            finish_reason=finish,
        )


async def aggregate(events: AsyncIterator[Event]) -> Completion:
    collector = Aggregator()
    async for event in events:
        collector.add(event)
    return collector.result()
