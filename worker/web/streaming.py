"""Sending an event stream to the client as SSE, honestly.

- The status is decided by the first event: an error before it answers with the dialect's normal JSON
  error and status. If the upstream stays silent for `keepalive_interval` (a reasoning model thinking),
  the 200 headers go out anyway with a `: keep-alive` comment, and comments keep following while the
  silence lasts, so proxies and clients do not drop a healthy stream.
- A failure after the first byte is sent as an error event and the stream ends without `[DONE]`:
  never a clean, empty end. That holds for unexpected exceptions too (sent as `internal_error`, logged
  by class name only). A client that left (`ClientClosed`, or the cancellation `DisconnectGuard`
  sends) gets nothing: there is nobody to tell, and the 499 is logged by the middleware.
- Shutdown: a stream still open when the shutdown grace ends (`worker.web.shutdown`) is cancelled;
  that cancellation is answered like a failure, with a `shutting_down` error event and no `[DONE]`.
- Backpressure: every event is awaited through `send`, which waits while the socket's buffer is full,
  so a slow reader slows the upstream read instead of growing a buffer here.

Events produced without the producer waiting in between (the events of one upstream read) are joined
into one body message: `offer` appends an encoded event to a list, without a coroutine, and one flush
per burst is scheduled with `call_soon`, so it runs as soon as the producer waits for the upstream.
A burst is at most `BURST_LIMIT` bytes: a producer that never waits (a fast upstream's buffered
answer, the simulator without a pace) has its events written, with backpressure, every 64 KiB.
The first write, keep-alives, errors and the last write go through `write`, which first sends what is
pending, so order never changes; a producer that finds a flush still in flight writes through `write`,
which waits for it (backpressure kept, and a failed flush fails the producer).

Keep-alives cost nothing while events flow: one loop timer per stream (not a task) looks at the time
of the last write when it fires, and only a stream that really was silent gets a task to send the
comment. An event write waits for such a task, so a comment and an event never interleave; no lock is
taken per event. The timer is cancelled, any keep-alive task awaited, and the event iterator closed,
however the stream ends, so that no task and no upstream connection outlives it
(`tests/e2e/test_disconnect.py` proves it on 200 streams).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from worker.core.closing import close
from worker.core.errors import ClientClosed, GatewayError, InternalError, ShuttingDown
from worker.core.ir import Event
from worker.observe import hooks
from worker.web.asgi import Send, send_json
from worker.web.shutdown import Shutdown

log = logging.getLogger("worker.stream")

KEEPALIVE = b": keep-alive\n\n"
BURST_LIMIT = 64 * 1024
"""Most bytes joined into one body message (uvicorn's own write buffer pauses at 64 KiB)."""
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class SSEResponder:
    """Writes the stream; sends `: keep-alive` after `interval` seconds without a write (0: never).

    Why not a ticker task with a lock, as before: a task per stream (created, cancelled, awaited) and
    a lock taken around every event were ~18% of a 64-event stream's CPU (in-process, stub upstream),
    for comments that a flowing stream never sends.
    """

    __slots__ = (
        "_extra_headers",
        "_flushing",
        "_handle",
        "_interval",
        "_keepalive",
        "_last",
        "_pending",
        "_pending_bytes",
        "_send",
        "_writing",
        "started",
    )

    def __init__(
        self, send: Send, extra_headers: list[tuple[bytes, bytes]] | None = None, interval: float = 0.0
    ) -> None:
        self._send = send
        self._extra_headers = extra_headers or []
        self.started = False
        self._writing = False
        self._keepalive: asyncio.Task[None] | None = None
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = None
        self._last = time.monotonic()
        self._pending: list[bytes] = []  # events offered since the last flush
        self._pending_bytes = 0
        self._flushing: asyncio.Task[None] | None = None
        if interval > 0:
            self._handle = asyncio.get_running_loop().call_later(interval, self._due)

    def offer(self, chunk: bytes) -> bool:
        """Queue `chunk` for the next flush if it can go that way (started, no comment or flush in
        flight, the burst under `BURST_LIMIT`); False: the caller must `await write(chunk)` instead,
        which first writes the burst."""
        if not self.started or self._keepalive is not None or self._flushing is not None:
            return False
        size = self._pending_bytes + len(chunk)
        if size > BURST_LIMIT and self._pending:
            return False
        pending = self._pending
        if not pending:
            asyncio.get_running_loop().call_soon(self._flush_soon)
        pending.append(chunk)
        self._pending_bytes = size
        return True

    def _flush_soon(self) -> None:
        if self._pending and self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._pending_bytes = 0
        if not pending:
            return
        body = pending[0] if len(pending) == 1 else b"".join(pending)
        self._writing = True
        try:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            self._writing = False
            self._last = time.monotonic()
        self._flushing = None  # written: the next burst may be offered (a failure stays for the producer)

    async def settle(self) -> None:
        """Wait for a flush in flight (its failure is raised here), then send what is still pending."""
        flushing = self._flushing
        if flushing is not None:
            self._flushing = None
            await flushing
        if self._pending:
            await self._flush()

    def discard(self) -> None:
        """The stream is over: a flush still in flight can no longer matter (nor its failure)."""
        flushing, self._flushing = self._flushing, None
        self._pending = []
        self._pending_bytes = 0
        if flushing is None:
            return
        if not flushing.done():
            flushing.cancel()
        elif not flushing.cancelled():
            flushing.exception()  # retrieved, so asyncio does not log it as never retrieved

    async def write(self, chunk: bytes, *, more: bool = True) -> None:
        await self.settle()
        while self._keepalive is not None:  # a comment is being sent: never interleave with it
            await asyncio.wait({self._keepalive})
        self._writing = True
        try:
            if self.started:
                await self._send({"type": "http.response.body", "body": chunk, "more_body": more})
            else:
                await self._emit(chunk, more)
        finally:
            self._writing = False
            self._last = time.monotonic()

    async def _emit(self, chunk: bytes, more: bool) -> None:
        if not self.started:
            self.started = True
            headers = [*SSE_HEADERS, *self._extra_headers]
            await self._send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._send({"type": "http.response.body", "body": chunk, "more_body": more})

    def _due(self) -> None:
        """The timer fired: send a comment if the stream has been silent for the interval, else look
        again when it will have been (a write that is blocked on a full socket is not silence)."""
        self._handle = None
        if self._interval <= 0:
            return
        silent_since = self._last
        now = time.monotonic()
        if self._writing or self._pending or now - silent_since < self._interval:
            wait = self._interval if self._writing else silent_since + self._interval - now
            self._handle = asyncio.get_running_loop().call_later(wait, self._due)
            return
        self._keepalive = asyncio.get_running_loop().create_task(self._send_keepalive())

    async def _send_keepalive(self) -> None:
        try:
            await self._emit(KEEPALIVE, True)
        except Exception as exc:  # the client is gone: the handler learns it from `http.disconnect`
            log.debug("keep-alive not sent: %s", type(exc).__name__)
            return
        finally:
            self._keepalive = None
        self._last = time.monotonic()
        if self._interval > 0:  # not stopped while the comment was going out
            self._handle = asyncio.get_running_loop().call_later(self._interval, self._due)

    async def stop(self) -> None:
        """No more keep-alives: cancel the timer, and cancel and await a comment being sent."""
        self._interval = 0.0
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        task = self._keepalive
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})  # unlike `await task`, never mistakes its cancellation for ours
        self._keepalive = None


async def respond_stream(
    send: Send,
    events: AsyncIterator[Event],
    encode: Callable[[Event], bytes],
    render_error: Callable[[GatewayError], tuple[int, bytes, list[tuple[bytes, bytes]]]],
    error_event: Callable[[GatewayError], bytes],
    keepalive_interval: float,
    request_id: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    shutdown: Shutdown | None = None,
) -> int:
    """Stream `events`; return the status to log (200, or the status of the error that ended it).

    A `ClientClosed` or a cancellation (the client left) is not answered at all: it propagates, after
    the keep-alive timer is stopped and the upstream iterator closed, so that nothing outlives it.
    """
    responder = SSEResponder(send, extra_headers, keepalive_interval)
    hooks.open_stream()
    try:
        offer = responder.offer
        async for event in events:
            chunk = encode(event)
            if chunk and not offer(chunk):
                await responder.write(chunk)
        await responder.settle()  # the last burst, before the keep-alive timer stops
    except ClientClosed:
        raise
    except (Exception, asyncio.CancelledError) as exc:  # an upstream failure, a bug, or the shutdown
        if isinstance(exc, asyncio.CancelledError):
            if shutdown is None or not shutdown.absorb():
                raise  # the client left (DisconnectGuard) or the server is cancelling: nobody to tell
            exc = ShuttingDown()
        error = exc if isinstance(exc, GatewayError) else InternalError()
        if not isinstance(exc, GatewayError):
            log.error("stream %s: unexpected %s", request_id, type(exc).__name__)
        await responder.stop()
        if responder.started:
            # The code, never the message: a message may carry upstream text.
            log.warning("stream %s failed after its first byte: %s", request_id, error.code)
            await responder.write(error_event(error), more=False)
        else:
            log.warning("stream %s failed before its first byte: %s", request_id, error.code)
            status, body, headers = render_error(error)
            await send_json(send, status, body, headers)
        return error.status
    finally:
        hooks.close_stream()
        await responder.stop()
        responder.discard()
        await close(events)
    await responder.write(b"", more=False)
    return 200
