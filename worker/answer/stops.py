"""Stop sequences enforced by the gateway itself, on the answer's event stream.

The sequences are also sent upstream, and most upstreams stop there on their own; but not all do (the
simulator, some llama.cpp builds), and none says *which* sequence matched, which Anthropic's
`stop_sequence` field must name. So the answer text is scanned here: text is passed on as it comes,
except for a tail short enough to still be the start of a sequence, which is held back until the next
delta decides. On a match the text is cut before the sequence, the upstream request is closed at once
(no tokens are paid for after it), and the answer ends with `Finish("stop")` and an estimated usage.
Reasoning and tool calls are not scanned: stop sequences apply to the answer text.

The upstream's own usage never arrives after such a cut (it comes last), so the estimate counts
everything the client received: the reasoning (as `reasoning_tokens` too), the answer text up to the
sequence, and the arguments of any tool call, as the upstream would have counted them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from worker.core.closing import close
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from worker.core.tokens import count_tokens, estimate_usage

THINK_CLOSE = "</think>"


def _held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of some stop sequence."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


class StopScanner:
    __slots__ = ("_stops", "matched")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self.matched: str | None = None

    def _first_match(self, text: str) -> tuple[int, str] | None:
        found: tuple[int, str] | None = None
        for stop in self._stops:
            at = text.find(stop)
            if at >= 0 and (found is None or at < found[0]):
                found = (at, stop)
        return found

    @property
    def active(self) -> bool:
        """False when there is nothing to scan for: then the answer's events need no extra layer."""
        return bool(self._stops)

    async def apply(self, events: AsyncIterator[Event], request: ChatRequest) -> AsyncIterator[Event]:
        held = ""
        produced: list[str] = []
        reasoning: list[str] = []
        calls: list[str] = []
        iterator = aiter(events)
        try:
            async for event in iterator:
                if isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                elif isinstance(event, ToolCallDelta):
                    calls.extend((event.name or "", event.arguments))
                if not isinstance(event, TextDelta):
                    if isinstance(event, Finish) and held:
                        produced.append(held)
                        yield TextDelta(held)
                        held = ""
                    yield event
                    continue
                text = held + event.text
                match = self._first_match(text)
                if match is not None:
                    at, self.matched = match
                    if at:
                        produced.append(text[:at])
                        yield TextDelta(text[:at])
                    break
                keep = _held_back(text, self._stops)
                held = text[len(text) - keep :] if keep else ""
                if len(text) > keep:
                    produced.append(text[: len(text) - keep])
                    yield TextDelta(text[: len(text) - keep])
        finally:
            await close(iterator)
        if self.matched is not None:
            yield Finish("stop")
            yield UsageEvent(received_usage(request, "".join(reasoning), "".join(produced), calls))


def received_usage(request: ChatRequest, reasoning: str, text: str, calls: list[str]) -> Usage:
    """The estimated usage of an answer cut by the gateway: everything the client received. Reasoning
    written inline (`... </think>` at the head of the text) is part of the text and counts as
    reasoning too, as reasoning in its own field does."""
    base = estimate_usage(request, text)
    completion = base.completion_tokens + sum(count_tokens(piece) for piece in calls)
    if reasoning:
        thought = count_tokens(reasoning)
        return Usage(base.prompt_tokens, completion + thought, thought, estimated=True)
    if THINK_CLOSE in text:
        thought = count_tokens(text.partition(THINK_CLOSE)[0])
        return Usage(base.prompt_tokens, completion, thought, estimated=True)
    return Usage(base.prompt_tokens, completion, estimated=True)
