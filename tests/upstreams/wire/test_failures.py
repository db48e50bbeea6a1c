"""Transport failures of both wires' libraries become the same gateway errors, with messages of our own."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
import socksio
from aiohttp.client_reqrep import ConnectionKey

from worker.core.errors import GatewayError, UpstreamError, UpstreamTimeout
from worker.upstreams.wire.failures import transport_error

SECRET_URL = "http://user:secret@proxy.example:3128"
KEY = ConnectionKey("up.example", 443, True, True, None, None, None)


def os_error() -> OSError:
    return OSError(111, f"Connection refused {SECRET_URL}")


CASES: list[tuple[BaseException, type[GatewayError], str]] = [
    # httpx (the proxy wire, and tests' mock transports)
    (httpx.ConnectError(f"refused {SECRET_URL}"), UpstreamError, "Could not connect to the upstream"),
    (httpx.ConnectTimeout("slow"), UpstreamTimeout, "The upstream timed out (ConnectTimeout)"),
    (httpx.ReadTimeout("slow"), UpstreamTimeout, "The upstream timed out (ReadTimeout)"),
    (httpx.PoolTimeout("full"), UpstreamTimeout, "The upstream timed out (PoolTimeout)"),
    (httpx.ProxyError(f"407 {SECRET_URL}"), UpstreamError, "The outbound proxy refused or failed"),
    (socksio.ProtocolError("Malformed reply"), UpstreamError, "The outbound proxy refused or failed"),
    (httpx.RemoteProtocolError("peer closed"), UpstreamError, "connection failed (RemoteProtocolError)"),
    (httpx.ReadError("reset"), UpstreamError, "connection failed (ReadError)"),
    # aiohttp (the default wire), named as httpx names them, so messages do not depend on the wire
    (aiohttp.ClientConnectorError(KEY, os_error()), UpstreamError, "Could not connect to the upstream"),
    (
        aiohttp.ClientProxyConnectionError(KEY, os_error()),
        UpstreamError,
        "The outbound proxy refused or failed",
    ),
    (aiohttp.ConnectionTimeoutError("slow"), UpstreamTimeout, "The upstream timed out (ConnectTimeout)"),
    (aiohttp.SocketTimeoutError("slow"), UpstreamTimeout, "The upstream timed out (ReadTimeout)"),
    (TimeoutError(), UpstreamTimeout, "The upstream timed out (ReadTimeout)"),
    (aiohttp.ServerDisconnectedError(), UpstreamError, "connection failed (RemoteProtocolError)"),
    (aiohttp.ClientPayloadError("cut"), UpstreamError, "connection failed (ReadError)"),
    (aiohttp.ClientOSError(104, "reset"), UpstreamError, "connection failed (NetworkError)"),
]


@pytest.mark.parametrize(("exc", "kind", "needle"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_every_failure_gets_a_message_of_our_own(
    exc: BaseException, kind: type[GatewayError], needle: str
) -> None:
    error = transport_error(exc)
    assert type(error) is kind and needle in error.message
    assert "secret" not in error.message and "refused 1" not in error.message
