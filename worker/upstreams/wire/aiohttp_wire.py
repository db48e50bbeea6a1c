"""The default wire: one aiohttp session (one connection pool) per process, no httpx on the path.

Why aiohttp: httpx's own pool (httpcore) is the largest cost on the gateway's path. On every request it
walks every pooled connection asking the socket whether it is still readable and re-enters anyio's
machinery; profiled under the benchmark (docs/performance.md) that was over half of the gateway's CPU,
and a plain `httpx.AsyncClient` proxy reached ~240 req/s where the same proxy on aiohttp reached ~2,000.
aiohttp's connector keeps idle connections in a per-host list and its HTTP parser is C. Going to
aiohttp directly, rather than through httpx's interface, also skips httpx's request and response
models, cookie jar, auth and redirect steps (~20% of the gateway's CPU per request when profiled).

What the wire keeps true:
- The body is read as it arrives (an SSE event is never held back to fill a buffer), at most
  `READ_SIZE` at a time: when a burst of events is already buffered, the first one is decoded and sent
  before the rest are parsed, which keeps time to first event short. The answer is its own iterator:
  one coroutine per read, no generator between aiohttp's buffer and the decoder.
- Leaving `post(...)` after the body's end hands the connection back to the pool; leaving it earlier
  closes the connection, which is what stops an upstream generation when the client has gone.
- No cookie jar: an upstream's cookies must not leak from one client's request into another's.
- Bodies are not decompressed here (`auto_decompress=False`): the exchange undoes any encoding itself,
  bounded, the same way on both wires (`wire.encoding`). The session asks for `Accept-Encoding:
  identity` (aiohttp would otherwise offer its own list); the exchange offers more per request.
- Ended by the caller at `[DONE]` (`finish_in_background`), an answer whose body is still open is
  drained in the background (`wire.drain`), so the client's end does not wait for the upstream's.
- `user:pw@` in a URL is dropped (`seam.without_userinfo`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import aiohttp

from worker.upstreams.wire.drain import drain, in_background
from worker.upstreams.wire.failures import AIOHTTP_ERRORS, transport_error
from worker.upstreams.wire.seam import Timeouts, without_userinfo

READ_SIZE = 4096
SESSION_HEADERS = {"Accept-Encoding": "identity"}


@functools.lru_cache(maxsize=64)  # one per distinct set of timeouts: the global one and a few targets'
def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None, connect=timeouts.pool, sock_connect=timeouts.connect, sock_read=timeouts.read
    )


class AiohttpAnswer:
    """Status, headers and body of one aiohttp response, errors translated at this boundary."""

    __slots__ = ("_content", "_later", "_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._content = response.content
        self._later = False
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers

    def aiter_bytes(self) -> AiohttpAnswer:
        return self

    def __aiter__(self) -> AiohttpAnswer:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._content.read(READ_SIZE)
        except AIOHTTP_ERRORS as exc:
            raise transport_error(exc) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aread(self) -> bytes:
        # aiohttp's own whole-body read: no iterator or chunk list between its buffer and us.
        try:
            return await self._response.read()
        except AIOHTTP_ERRORS as exc:
            raise transport_error(exc) from exc

    def finish_in_background(self) -> None:
        self._later = True

    def close(self) -> None:
        if self._content.at_eof():
            self._response.release()  # the body is complete: the connection goes back to the pool
        elif self._later:
            in_background(self._drain())
        else:
            self._response.close()  # abandoned mid-body: drop the connection, the upstream stops

    async def _drain(self) -> None:
        ended = False
        try:
            ended = await drain(self._read)
        finally:
            if ended and self._content.at_eof():
                self._response.release()
            else:
                self._response.close()

    async def _read(self) -> bytes:
        return await self._content.read(READ_SIZE)


class _Post:
    """`async with wire.post(...) as answer`: a plain context manager rather than `contextlib`'s
    generator-based one, which cost a generator and its bookkeeping per request."""

    __slots__ = ("_answer", "_body", "_headers", "_session", "_timeout", "_url")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self._session, self._url, self._body = session, url, body
        self._headers, self._timeout = headers, timeout
        self._answer: AiohttpAnswer | None = None

    async def __aenter__(self) -> AiohttpAnswer:
        try:
            response = await self._session.post(
                self._url,
                data=self._body,
                headers=self._headers,
                allow_redirects=False,
                timeout=self._timeout,
            )
        except AIOHTTP_ERRORS as exc:
            raise transport_error(exc) from exc
        self._answer = AiohttpAnswer(response)
        return self._answer

    async def __aexit__(self, *exc_info: object) -> None:
        if self._answer is not None:
            self._answer.close()


class AiohttpWire:
    """One aiohttp session, created on first use (it must belong to the running loop)."""

    def __init__(
        self, max_connections: int, keepalive_expiry: float = 30.0, timeout: Timeouts | None = None
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._timeout = client_timeout(timeout or Timeouts(write=None))

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeouts | None = None
    ) -> _Post:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open()
        limits = self._timeout if timeout is None else client_timeout(timeout)
        return _Post(session, without_userinfo(url), body, headers, limits)

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=self._keepalive_expiry, ttl_dns_cache=300
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            headers=SESSION_HEADERS,
        )

    def connection_counts(self) -> tuple[int, int]:
        """aiohttp has no public accessor: its connector keeps idle connections in `_conns` and those
        carrying a request in `_acquired`."""
        session = self._session
        if session is None or session.closed:
            return 0, 0
        connector: Any = session.connector
        idle = sum(len(entries) for entries in getattr(connector, "_conns", {}).values())
        busy = len(getattr(connector, "_acquired", ()))
        return idle + busy, busy

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
