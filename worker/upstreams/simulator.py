"""The embedded default upstream: the simulator engine served in-process, token by token.

Its fault modes behave as a real upstream failing would look to the gateway after the adapter's
translation: an error status becomes the same `GatewayError` the OpenAI adapter raises for that status,
a stall simply stops producing tokens (the gateway's timeouts and keep-alives then apply).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson

from worker.errors import UpstreamBadResponse, UpstreamError
from worker.ir import ChatRequest, Event, Finish, TextDelta, UsageEvent
from worker.models import Target
from worker.simulator.engine import find_fault, generate
from worker.upstreams.status import error_for_status

STALL_SECONDS = 3600.0


class Simulator:
    def __init__(self, token_delay: float = 0.0) -> None:
        self._token_delay = token_delay

    async def aclose(self) -> None:
        """Nothing to release."""

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[Event]:
        fault = find_fault(request)
        if fault is not None and fault.kind == "error":
            body = orjson.dumps({"error": {"message": f"simulated upstream error {fault.status}"}})
            raise error_for_status(fault.status, body, {"retry-after": "1"})
        if fault is not None and fault.kind == "malformed":
            raise UpstreamBadResponse("The upstream answered 200 without 'choices'")
        if fault is not None and fault.kind == "slow-start":
            await asyncio.sleep(fault.delay)
        generation = generate(request)
        tokens = generation.tokens
        half = len(tokens) // 2
        if not request.stream:
            if fault is not None and fault.kind in {"stall", "disconnect"}:
                await _fail_like(fault.kind)
            if self._token_delay:
                await asyncio.sleep(self._token_delay * len(tokens))
            yield TextDelta("".join(tokens))
        else:
            for i, token in enumerate(tokens):
                if fault is not None and i == half and fault.kind in {"stall", "disconnect"}:
                    await _fail_like(fault.kind)
                if self._token_delay:
                    await asyncio.sleep(self._token_delay)
                yield TextDelta(token)
        yield Finish(generation.finish_reason)
        yield UsageEvent(generation.usage)


async def _fail_like(kind: str) -> None:
    if kind == "stall":
        await asyncio.sleep(STALL_SECONDS)
    raise UpstreamError("The upstream closed the connection mid-answer")
