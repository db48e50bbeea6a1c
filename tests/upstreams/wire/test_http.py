from __future__ import annotations

import httpx
import pytest

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamError, UpstreamTimeout
from worker.upstreams.wire.http import request_timeout, transport_error


def test_targets_without_own_timeouts_use_the_clients() -> None:
    assert request_timeout(Target("openai", "http://x")) is None


def test_a_targets_own_timeouts() -> None:
    timeout = request_timeout(
        Target("openai", "http://x", connect_timeout=2, first_byte_timeout=300, idle_timeout=60)
    )
    assert timeout is not None
    assert (timeout.connect, timeout.read, timeout.pool) == (2, 300, 2)
    only_idle = request_timeout(Target("openai", "http://x", idle_timeout=9))
    assert only_idle is not None and only_idle.connect is None and only_idle.read == 9


@pytest.mark.parametrize(
    ("exc", "kind", "needle"),
    [
        (httpx.ConnectError("refused http://user:secret@x"), UpstreamError, "Could not connect"),
        (httpx.ReadTimeout("slow"), UpstreamTimeout, "ReadTimeout"),
        (httpx.ProxyError("407 http://user:secret@proxy"), UpstreamError, "proxy"),
        (httpx.RemoteProtocolError("peer closed"), UpstreamError, "RemoteProtocolError"),
    ],
)
def test_transport_errors_get_messages_of_our_own(
    exc: httpx.HTTPError, kind: type[GatewayError], needle: str
) -> None:
    error = transport_error(exc)
    assert type(error) is kind and needle in error.message and "secret" not in error.message
