"""The overall cap on one request (`REQUEST_DEADLINE`), applied to its stream of answer events.

The per-read timeouts (`UPSTREAM_FIRST_BYTE_TIMEOUT`, `UPSTREAM_IDLE_TIMEOUT`) cannot stop an upstream
that trickles one token a minute forever; this can. It is a fixed point in time, counted from the
moment the request is forwarded, checked around every wait for the next event. Time spent sending to
a slow client is not interrupted (that is backpressure, not a stuck upstream), but the next wait for
an event fails at once once the deadline is past. Off (0) by default: a long, healthy reasoning
answer should not be cut unless the operator asks for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from worker.core.errors import UpstreamTimeout
from worker.core.ir import Event


def with_deadline(events: AsyncIterator[Event], seconds: float) -> AsyncIterator[Event]:
    """`events`, failing with `UpstreamTimeout` once `seconds` have passed; unchanged when 0."""
    if seconds <= 0:
        return events
    return _capped(events, asyncio.get_running_loop().time() + seconds, seconds)


async def _capped(events: AsyncIterator[Event], when: float, seconds: float) -> AsyncIterator[Event]:
    iterator = aiter(events)
    try:
        while True:
            try:
                async with asyncio.timeout_at(when):
                    event = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise UpstreamTimeout(
                    f"The request ran into its overall deadline of {seconds:g} s (REQUEST_DEADLINE)"
                ) from exc
            yield event
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
