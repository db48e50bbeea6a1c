"""The HTTP seam every adapter talks through: `Wire.post(...)` opens one exchange, `Answer` comes back.

Two methods and three attributes, in the spirit of httpx's transport seam: an adapter never sees the HTTP
library under the wire, so the library can be swapped without touching an adapter (aiohttp by default,
httpx with an outbound proxy or `httpx.MockTransport` in tests). A wire raises only `GatewayError`s: its
library's exceptions are translated at its boundary by `wire.failures.transport_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import NamedTuple, Protocol

import yarl

from worker.config.models import Target


class Timeouts(NamedTuple):
    """Seconds (None: no limit). A tuple: hashable, so a wire can cache its library's own form of it."""

    connect: float | None = None  # opening a TCP (and TLS) connection
    read: float | None = None  # between two reads of the answer
    write: float | None = 30.0
    pool: float | None = None  # waiting for a free connection of the pool


class Answer(Protocol):
    """An upstream's answer: status, headers (case-insensitive), and the body as it arrives, raw (still
    in its `Content-Encoding`: the exchange decodes, `wire.encoding`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aread(self) -> bytes: ...

    def finish_in_background(self) -> None:
        """The caller has all it needs (`[DONE]`): leaving the context must not wait for the body's end.
        What remains is read in the background, bounded, and the connection pooled only if the body
        ended (`wire.drain`)."""
        ...


class Wire(Protocol):
    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeouts | None = None
    ) -> AbstractAsyncContextManager[Answer]:
        """POST `body` (exact bytes); `timeout`: a target's own, else the wire's. Leaving the context
        after the whole body was read pools the connection; leaving it earlier drops the connection,
        which is what stops an upstream generating for a client that has gone."""
        ...

    def connection_counts(self) -> tuple[int, int]:
        """(open, busy) connections of the wire's pool, for `worker.introspect`."""
        ...

    async def aclose(self) -> None: ...


def request_timeout(target: Target) -> Timeouts | None:
    """The target's own timeouts (model table), or None for the wire's (from the global settings)."""
    if not (target.connect_timeout or target.first_byte_timeout or target.idle_timeout):
        return None
    connect = target.connect_timeout or None
    return Timeouts(
        connect=connect, read=max(target.first_byte_timeout, target.idle_timeout) or None, pool=connect
    )


def without_userinfo(url: str) -> str:
    """`user:pw@` in a configured base URL is dropped: the adapters authenticate with their own header,
    and the HTTP libraries would act on a URL's credentials (aiohttp refuses them beside an
    Authorization header with a ValueError, not a transport error; an httpx client makes Basic auth of them
    that replaces our bearer token), which would turn a configuration detail into an unexplained 500."""
    if "@" not in url:
        return url
    return str(yarl.URL(url).with_user(None))
