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
from worker.core.ir import (
    ChatRequest,
    Finish,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
    UsageEvent,
)
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
    add = produced.add
    saw_tool_call = False
    timeout = first_timeout
    waiting_for_first = True
    iterator = aiter(events)
    next_event = iterator.__anext__
    # One timer for the whole stream, not one per event (worker/routing/deadlines.py).
    deadline = WaitDeadline(horizon=idle_timeout)
    arm = deadline.arm
    try:
        while True:
            # Per event: bound methods fetched once, `type() is` rather than `isinstance` chains, text
            # and reasoning (nearly every event) tested first; the loop is on every streamed event.
            arm(timeout)
            try:
                event = await next_event()
            except StopAsyncIteration:
                break
            except asyncio.CancelledError as exc:
                if not deadline.expired():
                    raise
                which = "before its first event" if waiting_for_first else "between two events"
                raise UpstreamTimeout(f"The upstream sent nothing for {timeout:g} s {which}") from exc
            finally:
                deadline.armed = False  # handing the event on is not waiting for the upstream
            timeout, waiting_for_first = idle_timeout, False
            if type(event) is TextDelta or type(event) is ReasoningDelta:
                add(event.text)
                yield event
            elif type(event) is Finish:
                finish = event.reason
            elif type(event) is UsageEvent:
                usage = event.usage
            elif type(event) is ToolCallDelta:
                saw_tool_call = True
                add(event.arguments)
                yield event
            else:  # (none: an adapter yields only the five kinds above)
                yield event
    finally:
        deadline.close()
        await close(iterator)
    yield Finish(finish or ("tool_calls" if saw_tool_call else "stop"))
    yield UsageEvent(usage or estimate_counted(request, produced.total()))
