"""Slow and oversized clients against a real `qwq-gateway` process on a real socket: heads and bodies
that trickle are cut off, heads that are too large or carry too many fields are refused before they
are buffered, the connection cap answers 503 at once, idle connections are closed. And the limits the
app holds itself (body time, header count) hold under a bare uvicorn too."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.conftest import API_KEY, NO_WRANGLER, make_settings
from tests.processes import clean_env
from tests.servers import LiveServer, free_port
from worker.app import create_app

REQUEST_LINE = b"POST /qwq-32b HTTP/1.1\r\nHost: gateway\r\n"
BODY = orjson.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8})


@pytest.fixture(scope="module")
def gateway() -> Iterator[int]:
    """A `qwq-gateway` process with short limits; yields its port."""
    port = free_port()
    env = clean_env(
        WRANGLER_TOML=str(NO_WRANGLER),
        API_KEYS=API_KEY,
        HEADER_TIMEOUT="1",
        BODY_TIMEOUT="1",
        MAX_HEADER_BYTES="16384",
        MAX_HEADERS="50",
        MAX_CONNECTIONS="4",
        CLIENT_KEEPALIVE_TIMEOUT="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(process, port)
    yield port
    process.terminate()
    process.wait(timeout=30)


def wait_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def trickle(sock: socket.socket, data: bytes, seconds: float) -> bool:
    """Send `data` a byte at a time for up to `seconds`; False once the server has closed."""
    deadline = time.monotonic() + seconds
    for byte in data:
        if time.monotonic() > deadline:
            return True
        try:
            sock.send(bytes([byte]))
        except OSError:
            return False
        time.sleep(0.2)
    return True


def request(headers: bytes = b"", body: bytes = BODY) -> bytes:
    length = b"Content-Length: %d\r\n" % len(body)
    auth = b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
    return REQUEST_LINE + auth + length + headers + b"\r\n" + body


def test_a_trickling_head_is_cut_off(gateway: int) -> None:
    with connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(REQUEST_LINE)
        trickle(sock, b"X-Slow: " + b"a" * 100, seconds=5)
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 5


def test_a_silent_connection_is_closed(gateway: int) -> None:
    with connect(gateway) as sock:
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_an_endless_head_is_refused_without_being_buffered(gateway: int) -> None:
    """64 MiB of one unfinished header: refused after the first 16 KiB, long before the rest is sent."""
    with connect(gateway) as sock:
        sock.sendall(REQUEST_LINE + b"X-Big: ")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass
        answer = answer_of(sock)
    assert sent < 8 * 1024 * 1024
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_small_head_with_a_large_body_in_the_same_read_is_served(gateway: int) -> None:
    """A long prompt (60 KB, 12,000 tokens) sent in one write: the head's end is found in the first
    read, so the body bytes that share it do not count against the head's 16 KiB."""
    body = orjson.dumps({"messages": [{"role": "user", "content": "word " * 12000}], "max_tokens": 8})
    head = (
        REQUEST_LINE
        + (
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    with connect(gateway) as sock:
        sock.sendall(head + body)
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_a_hundred_thousand_headers_are_refused(gateway: int) -> None:
    with connect(gateway) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(REQUEST_LINE + b"X-N: 1\r\n" * 100_000 + b"\r\n")
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_headers_over_the_count_are_refused_before_the_app(gateway: int) -> None:
    with connect(gateway) as sock:
        sock.sendall(request(b"X-N: 1\r\n" * 60))
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_trickling_body_is_cut_off_with_408(gateway: int) -> None:
    with connect(gateway) as sock:
        whole = request()
        head = whole[: whole.index(b"\r\n\r\n") + 4]
        sock.sendall(head)
        trickle(sock, BODY, seconds=3)
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive in time" in answer


def test_the_connection_cap_answers_503_at_once(gateway: int) -> None:
    idle = [connect(gateway) for _ in range(4)]
    try:
        time.sleep(0.2)
        with connect(gateway) as sock:
            sock.sendall(request())
            answer = answer_of(sock)
    finally:
        for sock in idle:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 503 ")


def test_an_idle_kept_alive_connection_is_closed(gateway: int) -> None:
    with connect(gateway) as sock:
        sock.sendall(request())
        time.sleep(0.5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        rest = answer_of(sock)
    assert not rest.startswith(b"HTTP/1.1 408")  # the keep-alive timeout, not the head timeout
    assert time.monotonic() - started < 3


def test_the_apps_own_limits_hold_under_a_bare_uvicorn() -> None:
    server = LiveServer(create_app(make_settings(body_timeout=1, max_headers=20)))
    server.start()
    try:
        with connect(server.port) as sock:
            sock.sendall(request(b"X-N: 1\r\n" * 30))
            many = answer_of(sock)
        with connect(server.port) as sock:
            whole = request()
            sock.sendall(whole[: whole.index(b"\r\n\r\n") + 4])
            trickle(sock, BODY, seconds=3)
            slow = answer_of(sock)
    finally:
        server.stop()
    assert many.startswith(b"HTTP/1.1 431 ") and b"limit is 20" in many
    assert slow.startswith(b"HTTP/1.1 408 ")


def test_the_protocol_class_brings_the_head_limits_to_a_bare_uvicorn() -> None:
    """docs/deploying.md's command: `--http worker.web.protocol:GuardedHttpToolsProtocol`."""
    port = free_port()
    env = clean_env(WRANGLER_TOML=str(NO_WRANGLER), API_KEYS=API_KEY, HEADER_TIMEOUT="1")
    args = ["--factory", "worker.app:create_app", "--port", str(port)]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *args,
        "--http",
        "worker.web.protocol:GuardedHttpToolsProtocol",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(process, port)
        with connect(port) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(REQUEST_LINE + b"X-N: 1\r\n" * 100_000 + b"\r\n")
            many = answer_of(sock)
        with connect(port) as sock:
            silent = answer_of(sock)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert many.startswith(b"HTTP/1.1 431 ")
    assert silent.startswith(b"HTTP/1.1 408 ")
