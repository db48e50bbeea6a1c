"""The embedded default upstream: the simulator engine served in-process, token by token.

Its fault modes behave as a real upstream failing would look to the gateway after the adapter's
translation: an error status becomes the same `GatewayError` the OpenAI adapter raises for that status,
a stall simply stops producing tokens (the gateway's timeouts and keep-alives then apply).
`reasoning_field=True` hands reasoning out as separate events, as vLLM's reasoning parser does;
otherwise it is inline text ending in `</think>`, as Workers AI returns QwQ's output.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse, UpstreamError
from worker.core.ir import (
    ChatRequest,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamEvent,
    UsageEvent,
)
from worker.simulator.engine import argument_pieces, find_fault, generate, pieces
from worker.upstreams.wire.status import error_for_status

STALL_SECONDS = 3600.0


def _event(kind: str, text: str) -> UpstreamEvent:
    return ReasoningDelta(text) if kind == "reasoning" else TextDelta(text)


class Simulator:
    def __init__(self, token_delay: float = 0.0, reasoning_field: bool = False) -> None:
        self._token_delay = token_delay
        self._reasoning_field = reasoning_field

    async def aclose(self) -> None:
        """Nothing to release."""

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[UpstreamEvent]:
        fault = find_fault(request)
        if fault is not None and fault.kind == "error":
            body = orjson.dumps({"error": {"message": f"simulated upstream error {fault.status}"}})
            raise error_for_status(fault.status, body, {"retry-after": "1"})
        if fault is not None and fault.kind == "malformed":
            raise UpstreamBadResponse("The upstream answered 200 without 'choices'")
        if fault is not None and fault.kind == "slow-start":
            await asyncio.sleep(fault.delay)
        generation = generate(request)
        output = pieces(generation, self._reasoning_field)
        failing = fault is not None and fault.kind in {"stall", "disconnect"}
        if not request.stream:
            if failing and fault is not None:
                await _fail_like(fault.kind)
            if self._token_delay:
                await asyncio.sleep(self._token_delay * len(output))
            for kind in ("reasoning", "text"):
                text = "".join(t for k, t in output if k == kind)
                if text:
                    yield _event(kind, text)
            for index, call in enumerate(generation.tool_calls):
                yield ToolCallDelta(index, call.arguments, call.id, call.name)
        else:
            half = len(output) // 2
            for i, (kind, token) in enumerate(output):
                if failing and fault is not None and i == half:
                    await _fail_like(fault.kind)
                if self._token_delay:
                    await asyncio.sleep(self._token_delay)
                yield _event(kind, token)
            for index, call in enumerate(generation.tool_calls):
                yield ToolCallDelta(index, "", call.id, call.name)
                for piece in argument_pieces(call.arguments):
                    yield ToolCallDelta(index, piece)
        yield Finish(generation.finish_reason)
        yield UsageEvent(generation.usage)


async def _fail_like(kind: str) -> None:
    if kind == "stall":
        await asyncio.sleep(STALL_SECONDS)
    raise UpstreamError("The upstream closed the connection mid-answer")
