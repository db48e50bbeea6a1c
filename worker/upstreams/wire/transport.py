"""An `httpx` transport that sends requests through one `aiohttp` connection pool.

Why: httpx's own pool (httpcore) is the largest cost on the gateway's path. On every request it walks
every pooled connection asking the socket whether it is still readable and re-enters anyio's
machinery; profiled under the benchmark (README § Performance) that was over half of the gateway's
CPU, and a plain `httpx.AsyncClient` proxy reached ~240 req/s where the same proxy on aiohttp reached
~2,000. aiohttp's connector keeps idle connections in a per-host list and its HTTP parser is C.

The seam is httpx's two-method transport (`handle_async_request`, `aclose`), so the adapters keep the
`httpx.AsyncClient` interface (and tests can still swap in `httpx.MockTransport`). aiohttp errors are
translated into httpx's exception tree here, at the boundary, so callers catch only httpx errors.
Closing the returned stream before the end of the body closes the connection instead of pooling it:
that is what stops an upstream generation when the client has gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx
import yarl

READ_SIZE = 4096


class _Body(httpx.AsyncByteStream):
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            # Bytes are handed out as they arrive (an SSE event is never held back to fill a buffer),
            # at most READ_SIZE at a time: when a burst of events is already buffered, the first one is
            # decoded and sent before the rest are parsed, which keeps time to first event short.
            async for chunk in self._response.content.iter_chunked(READ_SIZE):
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # the body is complete: the connection goes back to the pool
        else:
            self._response.close()  # abandoned mid-body: drop the connection, the upstream stops


def _translate(exc: BaseException) -> httpx.TransportError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connecting, or waiting for a pooled connection
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, (aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(str(exc) or "no data from the upstream in time")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("The upstream closed the connection")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(str(exc))
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(str(exc))
    return httpx.NetworkError(str(exc) or type(exc).__name__)


class UpstreamResponse:
    """What an adapter reads from an upstream answer: status, headers, and the body as it arrives.

    The subset of `httpx.Response` the adapters use, without building one: `stream_post` hands these out.
    """

    __slots__ = ("_body", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers
        self._body = _Body(response)

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aread(self) -> bytes:
        # aiohttp's own whole-body read: no generator or chunk list between its buffer and us.
        try:
            return await self._body._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc) from exc


class _Post:
    """`async with transport.stream_post(...) as answer`: a plain context manager rather than
    `contextlib`'s generator-based one, which cost a generator and its bookkeeping per request."""

    __slots__ = ("_answer", "_body", "_headers", "_session", "_timeouts", "_url")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeouts: aiohttp.ClientTimeout,
    ) -> None:
        self._session, self._url, self._body = session, url, body
        self._headers, self._timeouts = headers, timeouts
        self._answer: UpstreamResponse | None = None

    async def __aenter__(self) -> UpstreamResponse:
        try:
            response = await self._session.post(
                self._url,
                data=self._body,
                headers=self._headers,
                allow_redirects=False,
                timeout=self._timeouts,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translate(exc) from exc
        self._answer = UpstreamResponse(response)
        return self._answer

    async def __aexit__(self, *exc_info: object) -> None:
        if self._answer is not None:
            await self._answer._body.aclose()


def _timeout(timeouts: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeouts.get("pool"),
        sock_connect=timeouts.get("connect"),
        sock_read=timeouts.get("read"),
    )


def _without_userinfo(url: str) -> str:
    """`user:pw@` in a configured base URL is dropped: the adapters authenticate with their own header,
    and aiohttp refuses a URL's credentials beside an Authorization header (a ValueError, not a
    transport error), which would turn a configuration detail into an unexplained 500."""
    if "@" not in url:
        return url
    return str(yarl.URL(url).with_user(None))


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session per transport, created on first use (it must belong to the running loop).

    Two doors to the same pool: httpx's (`handle_async_request`, through an `httpx.AsyncClient`) and
    `stream_post`, the hot path of the OpenAI-compatible adapter, which skips httpx's request and
    response models, cookie jar, auth and redirect steps (~20% of the gateway's CPU per request when
    profiled; README § Performance).
    """

    def __init__(
        self, max_connections: int, keepalive_expiry: float = 30.0, timeout: httpx.Timeout | None = None
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._timeout = _timeout(timeout.as_dict() if timeout is not None else {})

    def stream_post(
        self, url: str, body: bytes, headers: Mapping[str, str], limits: httpx.Timeout | None = None
    ) -> _Post:
        """POST `body`; the answer's body is read by the caller, and closed (or pooled) on exit.
        `limits`: a target's own timeouts (model table), else the transport's."""
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open()
        timeouts = self._timeout if limits is None else _timeout(limits.as_dict())
        return _Post(session, _without_userinfo(url), body, headers, timeouts)

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=self._keepalive_expiry, ttl_dns_cache=300
        )
        # No cookie jar: an upstream's cookies must not leak from one client's request into another's.
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open()
        timeout = _timeout(request.extensions.get("timeout", {}))
        try:
            body = request.content
        except httpx.RequestNotRead:  # built from a stream: read it (the gateway always sends bytes)
            body = await request.aread()
        try:
            response = await session.request(
                request.method,
                _without_userinfo(str(request.url)),
                data=body or None,
                headers=request.headers.multi_items(),
                allow_redirects=False,
                timeout=timeout,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc) from exc
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def connection_counts(self) -> tuple[int, int]:
        """(open, busy) connections of the pool, for `worker.introspect`. aiohttp has no public accessor:
        its connector keeps idle connections in `_conns` and those carrying a request in `_acquired`."""
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
