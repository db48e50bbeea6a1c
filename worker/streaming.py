"""Sending an event stream to the client as SSE, honestly.

- The status is decided by the first event: an error before it answers with the dialect's normal JSON
  error and status. If the upstream stays silent for `keepalive_interval` (a reasoning model thinking),
  the 200 headers go out anyway with a `: keep-alive` comment, and comments keep following while the
  silence lasts, so proxies and clients do not drop a healthy stream.
- A failure after the first byte is sent as an error event and the stream ends without `[DONE]`:
  never a clean, empty end. That holds for unexpected exceptions too (sent as `internal_error`, logged
  by class name only). A client that left (`ClientClosed`, or the cancellation `DisconnectGuard`
  sends) gets nothing: there is nobody to tell, and the 499 is logged by the middleware.
- Backpressure: every event is awaited through `send`, which waits while the socket's buffer is full,
  so a slow reader slows the upstream read instead of growing a buffer here.

One timer task per stream sends the keep-alives; a lock keeps its sends and the event sends whole.
The timer is cancelled and awaited, and the event iterator closed, however the stream ends, so that no
task and no upstream connection outlives it (`tests/test_disconnect.py` proves it on 200 streams).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from worker.asgi import Send, send_json
from worker.errors import ClientClosed, GatewayError, InternalError
from worker.ir import Event

log = logging.getLogger("worker.stream")

KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class SSEResponder:
    __slots__ = ("_extra_headers", "_last", "_lock", "_send", "started")

    def __init__(self, send: Send, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._last = time.monotonic()
        self.started = False
        self._extra_headers = extra_headers or []

    async def _start(self) -> None:
        self.started = True
        headers = [*SSE_HEADERS, *self._extra_headers]
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    async def write(self, chunk: bytes, *, more: bool = True) -> None:
        async with self._lock:
            if not self.started:
                await self._start()
            self._last = time.monotonic()
            await self._send({"type": "http.response.body", "body": chunk, "more_body": more})

    async def is_started(self) -> bool:
        async with self._lock:  # waits out a keep-alive that may be sending the headers right now
            return self.started

    async def keepalive_loop(self, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(max(0.0, self._last + interval - time.monotonic()))
                if time.monotonic() - self._last >= interval:
                    await self.write(KEEPALIVE)
        except OSError:  # the client is gone; the handler learns it from `http.disconnect` and cleans up
            return


async def respond_stream(
    send: Send,
    events: AsyncIterator[Event],
    encode: Callable[[Event], bytes],
    render_error: Callable[[GatewayError], tuple[int, bytes, list[tuple[bytes, bytes]]]],
    error_event: Callable[[GatewayError], bytes],
    keepalive_interval: float,
    request_id: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    """Stream `events`; return the status to log (200, or the status of the error that ended it).

    A `ClientClosed` or a cancellation (the client left) is not answered at all: it propagates, after
    the keep-alive timer is stopped and the upstream iterator closed, so that nothing outlives it.
    """
    responder = SSEResponder(send, extra_headers)
    ticker = (
        asyncio.create_task(responder.keepalive_loop(keepalive_interval)) if keepalive_interval > 0 else None
    )
    try:
        async for event in events:
            chunk = encode(event)
            if chunk:
                await responder.write(chunk)
    except ClientClosed:
        raise
    except Exception as exc:  # an upstream failure, or a bug: either way the client must be told
        error = exc if isinstance(exc, GatewayError) else InternalError()
        if not isinstance(exc, GatewayError):
            log.error("stream %s: unexpected %s", request_id, type(exc).__name__)
        await _stop(ticker)
        if await responder.is_started():
            # The code, never the message: a message may carry upstream text.
            log.warning("stream %s failed after its first byte: %s", request_id, error.code)
            await responder.write(error_event(error), more=False)
        else:
            log.warning("stream %s failed before its first byte: %s", request_id, error.code)
            status, body, headers = render_error(error)
            await send_json(send, status, body, headers)
        return error.status
    finally:
        await _stop(ticker)
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    await responder.write(b"", more=False)
    return 200


async def _stop(ticker: asyncio.Task[None] | None) -> None:
    """Cancel the keep-alive timer and wait for it, so no task outlives the stream."""
    if ticker is None or ticker.done():
        return
    ticker.cancel()
    await asyncio.wait({ticker})  # unlike `await ticker`, never mistakes its cancellation for ours
