"""uvicorn's httptools protocol with the limits uvicorn has no setting for: how long, how large and how
many headers a request head may take before the app ever sees it.

Why here and not in middleware: the app is called once the head is complete, so a client that sends
one header byte a second, or an unending header, or a hundred thousand headers, is never seen by it.
uvicorn alone buffers such a head without limit and waits for it forever (its keep-alive timeout only
runs between requests). `qwq-gateway` serves with this class (`worker/cli.py`); a bare
`uvicorn --factory worker.app:create_app` does not unless told to (docs/deploying.md#client-limits).

- `HEADER_TIMEOUT`: from the connection's start, or the first byte of a later request, the head must
  be complete within this many seconds; else 408 and the connection is closed. A connection that
  never sends anything is closed the same way.
- `MAX_HEADER_BYTES`: a head still incomplete after this many bytes is refused with 431, so at most
  this much (plus one read) is ever buffered.
- `MAX_HEADERS`: more header fields than this are refused with 431, before the app is called.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from worker.config.settings import Settings, load_settings

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing at once (httptools re-raises it wrapped)."""


@lru_cache(maxsize=1)
def process_settings() -> Settings:
    """The process's settings, read once: `qwq-gateway --workers N` starts each worker process anew
    (uvicorn spawns them and names this class by its import path), so each reads its own environment,
    the one the app reads too."""
    return load_settings()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `HEADER_TIMEOUT`, `MAX_HEADER_BYTES` and `MAX_HEADERS`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = process_settings()
        self.header_timeout = settings.header_timeout
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self._head_count = 0
        self._in_head = False
        self._refusal: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._head_count = 0
        if self._head_timer is None and self.header_timeout > 0:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "The request head did not arrive in time")

    def data_received(self, data: bytes) -> None:
        if not self._in_head and (self.cycle is None or self.cycle.response_complete):
            self._start_head()  # the first bytes of a next request on a kept-alive connection
        tail = self._head_tail
        if self._in_head:
            self._head_bytes += len(data)
            self._head_tail = data[-3:] if len(data) >= 3 else (tail + data)[-3:]
        try:
            if (
                self._in_head
                and self._head_bytes > self.max_header_bytes
                and not self._head_ends_within(tail + data)
            ):
                self._refusal = (431, f"The request head is over {self.max_header_bytes} bytes")
                raise _HeadRefused()
            super().data_received(data)
        except _HeadRefused:
            pass
        if self._refusal is not None and not self.transport.is_closing():
            self._refuse(*self._refusal)

    def _head_ends_within(self, seen: bytes) -> bool:
        """Whether the head ends within the limit in `seen` (this read, after the last bytes of the one
        before): one read often carries a small head and the start of a large body, whose bytes are
        not the head's."""
        end = seen.find(b"\r\n\r\n")
        if end == -1:
            return False
        head_length = self._head_bytes - len(seen) + end + 4
        return head_length <= self.max_header_bytes

    def on_message_begin(self) -> None:
        if not self._in_head:
            self._start_head()
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        if self._head_count > self.max_headers:
            self._refusal = (431, f"The request has more than {self.max_headers} header fields")
            raise _HeadRefused()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with a 400, the one a callback raised to stop it included.
        if self._refusal is None:
            super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        self._in_head = False
        self._stop_head_timer()
        body = message.encode()
        head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
        headers = b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\nconnection: close\r\n"
        self.transport.write(head + headers % len(body) + b"\r\n" + body)
        self.transport.close()
