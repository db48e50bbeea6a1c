"""The wire over an httpx transport: httpx's own pool, for an outbound proxy (`UPSTREAM_PROXY`: httpx
speaks HTTP and SOCKS proxies, aiohttp no SOCKS), or any httpx transport in tests (`httpx.MockTransport`).

It calls the transport directly, without an `httpx.AsyncClient`: no cookie jar (an upstream's cookies
must not reach another client's request), no auth or redirect steps, no request and response models
beyond the transport's own. Closing before the body's end drops the connection, as on the aiohttp wire.

Bodies are read raw (`aiter_raw`): httpx would decompress them itself, unbounded; the exchange undoes
any encoding with its own bounded decoders, as on the aiohttp wire (`wire.encoding`).

httpcore's pool can orphan a connection when a request is cancelled at the wrong moment
(`pool_janitor`); this is the only wire with that pool, so it is the only caller of the janitor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from worker.upstreams.wire.drain import drain, in_background
from worker.upstreams.wire.failures import HTTPX_ERRORS, transport_error
from worker.upstreams.wire.pool_janitor import reclaim_orphans
from worker.upstreams.wire.seam import Timeouts, without_userinfo

# What an `httpx.AsyncClient` would add and upstreams saw before this wire went to the transport.
DEFAULT_HEADERS = {"accept-encoding": "identity", "user-agent": f"python-httpx/{httpx.__version__}"}


class HttpxAnswer:
    __slots__ = ("_chunks", "_response", "headers", "later", "status_code")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks: AsyncIterator[bytes] | None = None
        self.later = False
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def aiter_bytes(self) -> HttpxAnswer:
        if self._chunks is None:
            self._chunks = self._raw()
        return self

    def _raw(self) -> AsyncIterator[bytes]:
        # `httpx.MockTransport` hands back responses it has already read: their content is in memory.
        response = self._response
        return response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()

    def __aiter__(self) -> HttpxAnswer:
        return self

    async def __anext__(self) -> bytes:
        if self._chunks is None:
            self._chunks = self._raw()
        try:
            return await anext(self._chunks)
        except HTTPX_ERRORS as exc:
            raise transport_error(exc) from exc

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    def finish_in_background(self) -> None:
        self.later = True

    async def read_or_end(self) -> bytes:
        """The next piece of the body, b"" at its end (for `wire.drain`)."""
        try:
            return await anext(self)
        except StopAsyncIteration:
            return b""


class _Post:
    __slots__ = ("_answer", "_request", "_response", "_wire")

    def __init__(self, wire: HttpxWire, request: httpx.Request) -> None:
        self._wire, self._request = wire, request
        self._response: httpx.Response | None = None
        self._answer: HttpxAnswer | None = None

    async def __aenter__(self) -> HttpxAnswer:
        try:
            response = await self._wire.transport.handle_async_request(self._request)
        except HTTPX_ERRORS as exc:
            raise transport_error(exc) from exc
        except BaseException:  # cancelled while connecting: the moment httpcore can orphan a connection
            await self._wire.reclaim()
            raise
        response.request = self._request
        self._response = response
        self._answer = HttpxAnswer(response)
        return self._answer

    async def _drain(self, answer: HttpxAnswer) -> None:
        """httpcore pools a connection whose body was read to its end and closes any other."""
        try:
            await drain(answer.read_or_end)
        finally:
            if self._response is not None:
                await self._response.aclose()

    async def __aexit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._answer is not None and self._answer.later and kind is None:
            in_background(self._drain(self._answer))
        elif self._response is not None:
            await self._response.aclose()
        if kind is not None and not issubclass(kind, Exception):  # cancelled, or the consumer left
            await self._wire.reclaim()


class HttpxWire:
    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: Timeouts | None = None) -> None:
        self.transport = transport
        self._timeout = (timeout or Timeouts(write=None))._asdict()

    @classmethod
    def pooled(
        cls,
        max_connections: int,
        max_keepalive: int,
        timeout: Timeouts | None = None,
        proxy: str | None = None,
    ) -> HttpxWire:
        """httpx's own pool, through `proxy` if given (`http://`, `https://`, `socks5://`, `socks5h://`)."""
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive)
        return cls(httpx.AsyncHTTPTransport(limits=limits, proxy=proxy, trust_env=False), timeout)

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeouts | None = None
    ) -> _Post:
        request = httpx.Request(
            "POST",
            without_userinfo(url),
            content=body,
            headers={**DEFAULT_HEADERS, **headers},
            extensions={"timeout": self._timeout if timeout is None else timeout._asdict()},
        )
        return _Post(self, request)

    @property
    def pool(self) -> Any:
        """httpcore's pool under httpx's own transport (httpx 0.28: `AsyncHTTPTransport._pool`), None
        under any other transport."""
        pool = getattr(self.transport, "_pool", None)
        if pool is None and isinstance(self.transport, httpx.AsyncHTTPTransport):
            raise RuntimeError("this httpx version does not expose its connection pool as expected")
        return pool

    async def reclaim(self) -> int:
        pool = self.pool
        return 0 if pool is None else await reclaim_orphans(pool)

    def connection_counts(self) -> tuple[int, int]:
        """httpx has no public accessor for its pool: this and `pool_janitor` are the places that reach
        into it (its `connections` property is public httpcore)."""
        pool = self.pool
        if pool is None:
            return 0, 0
        alive = [c for c in pool.connections if not c.is_closed()]
        return len(alive), sum(1 for c in alive if not c.is_idle())

    async def aclose(self) -> None:
        await self.transport.aclose()
