"""Stop a request's work soon after its client goes away (the 499 contract).

Once the body is read, the only message an ASGI server still delivers on `receive` is
`http.disconnect`. A small watcher task waits for it and cancels the handler's own task, which
unwinds through whatever the handler was awaiting (the upstream request, a stream read, a send) and so
closes the upstream connection. The handler turns that cancellation into `ClientClosed`.
Nothing is cancelled once the handler says its answer is complete: servers also report a disconnect
after a finished response.

The watcher starts only once the request has been in flight for `WATCH_AFTER` seconds. Most answers
(every non-streamed one from a fast upstream) are complete well before that, and a task per request,
created, stepped and cancelled, was a few percent of such a request's CPU. A client that leaves
earlier is still noticed: the server keeps the disconnect, and the watcher's first `receive` returns
it at once. So the upstream work of a client that left goes on for at most `WATCH_AFTER` seconds, a
small fraction of what a model's answer takes.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from worker.core.errors import ClientClosed
from worker.web.asgi import Receive

WATCH_AFTER = 0.1
"""Seconds a request runs before its disconnect watcher starts (see the module docstring)."""


class DisconnectGuard:
    __slots__ = ("_after", "_receive", "_start", "_task", "_watcher", "disconnected", "finished")

    def __init__(self, receive: Receive, after: float = WATCH_AFTER) -> None:
        self._receive = receive
        self._after = after
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._start: asyncio.TimerHandle | None = None
        self.disconnected = False
        self.finished = False

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        if not self.finished and self._task is not None:
            self.disconnected = True
            self._task.cancel()

    def _begin(self) -> None:
        self._start = None
        if not self.finished:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def __aenter__(self) -> DisconnectGuard:
        self._task = asyncio.current_task()
        if self._after <= 0:
            self._begin()
        else:
            self._start = asyncio.get_running_loop().call_later(self._after, self._begin)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.finished = True
        # Drop every reference to a task or a timer before anything else. The cancelled watcher keeps
        # its CancelledError, whose traceback holds the watcher's frame and so this guard; the pending
        # timer holds this guard's `_begin`. Were the guard still to hold either, every request would
        # leave a reference cycle for the garbage collector, whose passes cost ~15% of the CPU per
        # request under load (profiled with scripts/bench.sh; tests/e2e/test_garbage.py keeps it so).
        start, self._start = self._start, None
        if start is not None:
            start.cancel()
        watcher, self._watcher = self._watcher, None
        task, self._task = self._task, None
        if watcher is not None and not watcher.done():
            watcher.cancel()
        if self.disconnected and task is not None:
            # Our own cancellation, not the server's: absorb it and report the 499 instead.
            if task.cancelling():
                task.uncancel()
            raise ClientClosed() from None
        return False
