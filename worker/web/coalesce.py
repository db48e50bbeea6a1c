"""Write coalescing for streamed answers: one socket write per burst of events, not one per event.

Why: an upstream read often carries many SSE events (a fast upstream, or a burst after a pause), and the
stream encoder sends each one as its own `http.response.body` message. Under uvloop each such message
is a `write()` system call; profiled under the benchmark, those calls were ~43% of the gateway's CPU on
a 512-event stream (docs/performance.md).

How: the first body message goes out at once (time to first event is not delayed). Later bodies with
`more_body` are appended to a buffer, and one flush is scheduled with `call_soon`: it runs as soon as
the producer awaits something that is not ready (the next upstream read), so everything produced from
one upstream read leaves in one write, and nothing waits for a timer. Bounded: past `LIMIT` bytes the
producer flushes itself. Backpressure is kept: a producer that finds the previous flush still waiting
on a full socket waits for it. Any other message (the start, the last body) first flushes what is
buffered, so order is never changed.
"""

from __future__ import annotations

import asyncio

from worker.web.asgi import Message, Send

LIMIT = 32 * 1024


class CoalescingSend:
    __slots__ = ("_buffer", "_inflight", "_scheduled", "_send", "_size", "_started_body")

    def __init__(self, send: Send) -> None:
        self._send = send
        self._buffer: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self._started_body = False
        self._inflight: asyncio.Task[None] | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("more_body", False):
            body = message.get("body", b"")
            if not self._started_body:
                self._started_body = True
                await self._send(message)
                return
            if not body:
                return
            if self._inflight is not None:
                # Still writing means the socket is full: wait, as the direct `send` would. Done: this
                # collects its result, so a failed flush fails the producer rather than vanish.
                inflight, self._inflight = self._inflight, None
                await inflight
            self._buffer.append(body)
            self._size += len(body)
            if self._size >= LIMIT:
                await self._write()
            elif not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_soon)
            return
        await self.flush()
        await self._send(message)

    def _flush_soon(self) -> None:
        self._scheduled = False
        inflight = self._inflight
        if not self._buffer:
            return
        if inflight is not None and not inflight.done():  # still writing: go again once it is done
            self._scheduled = True
            inflight.add_done_callback(lambda _: self._flush_soon())
            return
        if inflight is not None and not inflight.cancelled() and inflight.exception() is not None:
            return  # the socket failed; the producer learns it from its next send
        self._inflight = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        if not self._buffer:
            return
        body = self._buffer[0] if len(self._buffer) == 1 else b"".join(self._buffer)
        self._buffer = []
        self._size = 0
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def flush(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            await inflight
        await self._write()

    def discard(self) -> None:
        """The request is over (finished, failed or cancelled): drop a flush that can no longer matter."""
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
        elif self._inflight is not None and not self._inflight.cancelled():
            self._inflight.exception()  # retrieved, so asyncio does not log it as never retrieved
        self._buffer = []
