"""The one place where a transport failure becomes a gateway error, for both wires.

    failure                                   client gets
    could not connect                         500 "Could not connect to the upstream"
    the outbound proxy refused or failed      500 "The outbound proxy refused or failed ..."
    a timeout (connect, pool, read, write)    504* upstream_timeout "The upstream timed out (<kind>)"
    anything else (reset, cut body, ...)      500 "The upstream connection failed (<kind>)"

The message is ours, never the exception's text, which can carry URLs with credentials (a proxy's
`user:password@`). `<kind>` is httpx's name for the failure whichever library met it (aiohttp's are
translated in the table below), so what clients and logs see does not depend on the wire in use.
"""

from __future__ import annotations

from enum import Enum

import aiohttp
import httpx

from worker.core.errors import GatewayError, UpstreamError, UpstreamTimeout

try:
    from socksio import ProtocolError as SocksProtocolError
except ImportError:  # no SOCKS support installed (Pyodide, the Cloudflare Worker): the error cannot occur

    class SocksProtocolError(Exception):  # type: ignore[no-redef]
        """Stands in for socksio's error where socksio is absent; never raised."""


class Failure(Enum):
    CONNECT = "connect"
    PROXY = "proxy"
    TIMEOUT = "timeout"
    BROKEN = "broken"


# (exception class, what it means, its name in messages; None: the class's own). First match wins, so
# subclasses come before their bases (aiohttp's proxy error is a connector error, its connection timeout
# a server timeout).
TABLE: tuple[tuple[type[BaseException], Failure, str | None], ...] = (
    (aiohttp.ClientProxyConnectionError, Failure.PROXY, "ProxyError"),
    (httpx.ProxyError, Failure.PROXY, None),
    (SocksProtocolError, Failure.PROXY, "ProxyError"),  # httpcore lets a bad SOCKS reply through as is
    (aiohttp.ClientConnectorError, Failure.CONNECT, "ConnectError"),
    (httpx.ConnectError, Failure.CONNECT, None),
    (aiohttp.ConnectionTimeoutError, Failure.TIMEOUT, "ConnectTimeout"),  # connecting, or a pool slot
    (TimeoutError, Failure.TIMEOUT, "ReadTimeout"),  # aiohttp's sock_read, and asyncio's
    (httpx.TimeoutException, Failure.TIMEOUT, None),
    (aiohttp.ServerDisconnectedError, Failure.BROKEN, "RemoteProtocolError"),
    (aiohttp.ClientPayloadError, Failure.BROKEN, "ReadError"),
    (aiohttp.ClientResponseError, Failure.BROKEN, "RemoteProtocolError"),
    (aiohttp.ClientError, Failure.BROKEN, "NetworkError"),
    (httpx.HTTPError, Failure.BROKEN, None),
)

# What each wire catches at its boundary and hands to `transport_error`.
AIOHTTP_ERRORS = (aiohttp.ClientError, TimeoutError)
HTTPX_ERRORS = (httpx.HTTPError, SocksProtocolError)


def classify(exc: BaseException) -> tuple[Failure, str]:
    for kind, failure, name in TABLE:
        if isinstance(exc, kind):
            return failure, name or type(exc).__name__
    return Failure.BROKEN, type(exc).__name__


def transport_error(exc: BaseException) -> GatewayError:
    failure, name = classify(exc)
    if failure is Failure.CONNECT:
        return UpstreamError("Could not connect to the upstream")
    if failure is Failure.PROXY:
        return UpstreamError("The outbound proxy refused or failed the upstream connection")
    if failure is Failure.TIMEOUT:
        return UpstreamTimeout(f"The upstream timed out ({name})")
    return UpstreamError(f"The upstream connection failed ({name})")
