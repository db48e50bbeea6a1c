"""The core path between a parsed request and a dialect encoder: choose the adapter, guard the stream.

`normalize` is the one place that makes an adapter's events well-formed for every encoder: content
first, then exactly one `Finish`, then exactly one `UsageEvent` (estimated, and marked so, when the
upstream sent none). It also applies the upstream timeouts to every adapter alike: time to the first
event and the longest silence between two events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from worker.core.closing import close
from worker.core.errors import UpstreamTimeout
from worker.core.ir import ChatRequest, Finish, FinishReason, ToolCallDelta, UpstreamEvent, Usage, UsageEvent
from worker.core.tokens import TokenTally, estimate_counted
from worker.routing.deadlines import WaitDeadline


async def normalize(
    events: AsyncIterator[UpstreamEvent],
    request: ChatRequest,
    first_timeout: float | None,
    idle_timeout: float | None,
) -> AsyncIterator[UpstreamEvent]:
    finish: FinishReason | None = None
    usage: Usage | None = None
    produced = TokenTally()  # the answer's tokens, counted as it passes: memory does not grow with it
    saw_tool_call = False
    timeout = first_timeout
    waiting_for_first = True
    iterator = aiter(events)
    # One timer for the whole stream, not one per event (worker/routing/deadlines.py).
    deadline = WaitDeadline(horizon=idle_timeout)
    try:
        while True:
            deadline.arm(timeout)
            try:
                event = await anext(iterator)
            except StopAsyncIteration:
                break
            except asyncio.CancelledError as exc:
                if not deadline.expired():
                    raise
                which = "before its first event" if waiting_for_first else "between two events"
                raise UpstreamTimeout(f"The upstream sent nothing for {timeout:g} s {which}") from exc
            finally:
                deadline.disarm()
            timeout, waiting_for_first = idle_timeout, False
            if isinstance(event, Finish):
                finish = event.reason
            elif isinstance(event, UsageEvent):
                usage = event.usage
            else:
                if isinstance(event, ToolCallDelta):
                    saw_tool_call = True
                    produced.add(event.arguments)
                else:
                    produced.add(event.text)
                yield event
    finally:
        deadline.close()
        await close(iterator)
    yield Finish(finish or ("tool_calls" if saw_tool_call else "stop"))
    yield UsageEvent(usage or estimate_counted(request, produced.total()))
