"""Graceful shutdown: on SIGTERM (or SIGINT) every open request gets `SHUTDOWN_GRACE` seconds, then ends.

The server stops accepting connections and waits for the open ones to finish; that alone would let a
stream on a stalled upstream keep the process alive for as long as the upstream's timeouts allow (ten
minutes for a first byte). So the app learns of the signal itself, by chaining its handler in front of
the server's (uvicorn installs one per process; the gateway's is called first, then uvicorn's, which
starts the server's own shutdown). After the grace every request still open is cancelled, and the
cancellation is turned into `ShuttingDown`: a stream that has started ends with an error event in its
dialect's shape (`code: "shutting_down"`, no `[DONE]`), a request not yet answered gets a 503 in its
dialect's shape, and in both cases the upstream request is closed. Requests that finish within the
grace are untouched.

Nothing here runs per event: a request registers its task in a set when it starts and leaves it when
it ends; only the expiry walks the set.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from worker.core.errors import ShuttingDown

log = logging.getLogger("worker.shutdown")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    """One process's shutdown, as the app sees it (one per app; the signal handlers are per process)."""

    __slots__ = ("_ended", "_loop", "_open", "_timer", "draining", "expired", "grace")

    def __init__(self, grace: float = 25.0) -> None:
        self.grace = grace
        self.draining = False
        self.expired = False
        self._open: set[asyncio.Task[Any]] = set()
        self._ended: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self, grace: float) -> None:
        """Called at start-up, on the serving loop: chain a handler in front of the server's own.

        Only where a server handles the signals itself (a Python handler is installed, as uvicorn
        does in its main thread): in front of the default action the gateway would stop the process
        from ending on SIGTERM at all. Elsewhere (a server in a thread, as in tests) `begin` is
        called directly.
        """
        self.grace = grace
        self._loop = asyncio.get_running_loop()
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            try:
                previous = signal.getsignal(sig)
                if callable(previous):
                    signal.signal(sig, self._chained(previous))
            except (ValueError, OSError, AttributeError):  # a runtime without signals (Pyodide)
                return

    def _chained(self, previous: Callable[[int, FrameType | None], Any]) -> Callable[..., None]:
        loop = self._loop
        assert loop is not None

        def handler(signum: int, frame: FrameType | None) -> None:
            loop.call_soon_threadsafe(self.begin)
            previous(signum, frame)

        return handler

    def begin(self) -> None:
        """Start the grace: from now on, at most `grace` seconds for every open request."""
        if self.draining:
            return
        self.draining = True
        log.info("shutting down: %d open request(s) get up to %.0fs to finish", len(self._open), self.grace)
        self._timer = asyncio.get_running_loop().call_later(self.grace, self.expire)

    def expire(self) -> None:
        """The grace is over: cancel every request still open (each turns it into `ShuttingDown`)."""
        self.expired = True
        if self._open:
            log.warning("shutdown grace over: ending %d open request(s)", len(self._open))
        for task in self._open:
            self._ended.add(task)
            task.cancel()

    def absorb(self) -> bool:
        """Inside a cancelled request: True (and the cancellation undone) if it was the expiry's."""
        task = asyncio.current_task()
        if task is None or task not in self._ended:
            return False
        self._ended.discard(task)
        if task.cancelling():
            task.uncancel()
        return True

    def track(self) -> Tracked:
        """Around one request: registers it, and turns the expiry's cancellation into `ShuttingDown`."""
        return Tracked(self)

    def register(self) -> asyncio.Task[Any] | None:
        if self.expired:
            raise ShuttingDown()
        task = asyncio.current_task()
        if task is not None:
            self._open.add(task)
        return task

    def unregister(self, task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            self._open.discard(task)
            self._ended.discard(task)


class Tracked:
    __slots__ = ("_shutdown", "_task")

    def __init__(self, shutdown: Shutdown) -> None:
        self._shutdown = shutdown
        self._task: asyncio.Task[Any] | None = None

    def __enter__(self) -> None:
        self._task = self._shutdown.register()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is asyncio.CancelledError and self._shutdown.absorb():
                raise ShuttingDown() from None
        finally:
            self._shutdown.unregister(self._task)
            self._task = None
