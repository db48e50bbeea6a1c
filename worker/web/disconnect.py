"""Stop a request's work the moment its client goes away (the 499 contract).

Once the body is read, the only message an ASGI server still delivers on `receive` is
`http.disconnect`. One small watcher task waits for it and cancels the handler's own task, which
unwinds through whatever the handler was awaiting (the upstream request, a stream read, a send) and so
closes the upstream connection at once. The handler turns that cancellation into `ClientClosed`.
Nothing is cancelled once the handler says its answer is complete: servers also report a disconnect
after a finished response.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from worker.core.errors import ClientClosed
from worker.web.asgi import Receive


class DisconnectGuard:
    __slots__ = ("_receive", "_task", "_watcher", "disconnected", "finished")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
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

    async def __aenter__(self) -> DisconnectGuard:
        self._task = asyncio.current_task()
        self._watcher = asyncio.create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.finished = True
        # Drop both task references before anything else. The cancelled watcher keeps its
        # CancelledError, whose traceback holds the watcher's frame and so this guard: were the guard
        # still to hold the watcher, every request would leave a reference cycle (task, error,
        # traceback, frame, guard) for the garbage collector, whose passes cost ~15% of the CPU per
        # request under load (profiled with scripts/bench.sh; tests/e2e/test_garbage.py keeps it so).
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
