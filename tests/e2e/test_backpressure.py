"""Backpressure: a client that stops reading holds the upstream back; nothing buffers the whole answer.

The firehose upstream offers 64 MiB as fast as it can. The client, on a raw socket with a small receive
buffer, reads the headers and then nothing. The upstream must stall far short of the end (only the
socket buffers on each hop are in flight), move again when the client reads, and be cancelled when the
client leaves. A gateway that buffered the answer would let the upstream run to the end.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.conftest import API_KEY
from tests.firehose import Firehose
from tests.servers import LiveServer, serving

EVENTS = 16 * 1024
PIECE = 4 * 1024  # 16 Ki events of 4 KiB of text: 64 MiB and more on the wire


@pytest.fixture
def firehose() -> Iterator[LiveServer]:
    with serving(Firehose(EVENTS, PIECE)) as server:
        yield server


def settled(read: Callable[[], int], quiet: float = 0.5, limit: float = 10.0) -> int:
    """The value once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + limit
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def test_a_slow_reader_holds_the_upstream_back(
    firehose: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(upstream_url=f"{firehose.url}/v1")
    stats = firehose.app.stats
    body = orjson.dumps(
        {"messages": [{"role": "user", "content": "all"}], "stream": True, "max_tokens": EVENTS}
    )
    request = (
        b"POST /qwq-32b HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # before connect: no autotuning
        client.connect(("127.0.0.1", gateway.port))
        client.sendall(request)
        head = client.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")

        stalled_at = settled(lambda: stats.sent_events)
        assert stats.finished == 0
        assert stalled_at < EVENTS // 2  # at most the socket buffers are in flight, not the answer

        client.settimeout(5)
        # Read 8 MiB, an eighth of the answer, counted in bytes: how much one `recv` returns depends on
        # how the gateway joins its writes, and a count of reads could take in the whole answer.
        received = 0
        while received < 8 * 1024 * 1024:  # the upstream must move on again
            chunk = client.recv(64 * 1024)
            assert chunk, "the answer ended before an eighth of it was read"
            received += len(chunk)
        assert settled(lambda: stats.sent_events, quiet=0.3) > stalled_at
    deadline = time.monotonic() + 5
    while stats.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (stats.cancelled, stats.finished) == (1, 0)
