"""Graceful shutdown with real processes and real signals: after SIGTERM, answers in flight finish
within `SHUTDOWN_GRACE`; a stream still open then ends with a `shutting_down` error event in its
dialect's shape (no `[DONE]`), its upstream request is closed, and the process exits, under
`qwq-gateway` and under a bare `uvicorn --factory worker.app:create_app`."""

from __future__ import annotations

import signal as signals
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import API_KEY, AUTH, NO_WRANGLER, make_settings
from tests.processes import clean_env
from tests.servers import FaultServer, LiveServer, free_port
from worker.app import create_app

GRACE = 2.0
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def stalled() -> Iterator[LiveServer]:
    """An upstream that starts every answer and then says nothing more, ever."""
    server = LiveServer(FaultServer(["stall"]))
    server.start()
    yield server
    server.stop()


def start(command: str, upstream: LiveServer, port: int) -> subprocess.Popen[str]:
    env = clean_env(
        WRANGLER_TOML=str(NO_WRANGLER),
        API_KEYS=API_KEY,
        UPSTREAM_URL=f"{upstream.url}/v1",
        SHUTDOWN_GRACE=str(GRACE),
        KEEPALIVE_INTERVAL="0.2",
        RETRY_ATTEMPTS="0",
    )
    args = {
        "qwq-gateway": [sys.executable, "-m", "worker", "--port", str(port)],
        "uvicorn": [
            sys.executable,
            *("-m", "uvicorn", "--factory", "worker.app:create_app", "--port", str(port)),
        ],
    }[command]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)


class Reader(threading.Thread):
    """Reads one streamed answer to its end in the background; `first` is set at its first byte."""

    def __init__(self, url: str, body: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.first = threading.Event()
        self.text = ""
        self.status = 0
        self.ended_at = 0.0

    def run(self) -> None:
        with httpx.stream("POST", self.url, json=self.body, headers=AUTH, timeout=60) as response:
            self.status = response.status_code
            for chunk in response.iter_text():
                self.text += chunk
                self.first.set()
        self.ended_at = time.monotonic()
        self.first.set()


@pytest.mark.parametrize(
    ("command", "signal"),
    [("qwq-gateway", "SIGTERM"), ("uvicorn", "SIGTERM"), ("uvicorn", "SIGINT")],
)
def test_a_signal_ends_open_streams_after_the_grace_and_exits(
    stalled: LiveServer, command: str, signal: str
) -> None:
    port = free_port()
    process = start(command, stalled, port)
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        reader = Reader(url, {"model": "qwq-32b", "stream": True, **CHAT})
        reader.start()
        assert reader.first.wait(10), "the stream did not start"
        signalled = time.monotonic()
        process.send_signal(getattr(signals, signal))
        reader.join(GRACE + 10)
        assert not reader.is_alive(), "the stream was not ended"
        out, _ = process.communicate(timeout=GRACE + 5)
        exited = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert reader.status == 200
    assert GRACE - 0.5 <= reader.ended_at - signalled <= GRACE + 3
    assert exited - signalled <= GRACE + 5
    # uvicorn re-raises the signal once it has shut down cleanly, as a service manager expects.
    assert process.returncode in (0, -getattr(signals, signal)), out
    assert "Application shutdown complete" in out
    events = [line[6:] for line in reader.text.splitlines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    assert orjson.loads(events[-1])["error"]["code"] == "shutting_down"
    assert "Traceback" not in out


def test_answers_in_flight_finish_and_late_ones_get_503(stalled: LiveServer) -> None:
    """A non-streamed answer that arrives within the grace is delivered; one that would not is ended
    with a 503 in its dialect's shape when the grace is over."""
    quick = LiveServer(FaultServer(["slow:1"], answer="Finished in time."))
    quick.start()
    port, port_quick = free_port(), free_port()
    stuck = start("qwq-gateway", stalled, port)
    finishing = start("qwq-gateway", quick, port_quick)
    results: dict[str, httpx.Response] = {}

    def post(name: str, target: int) -> None:
        results[name] = httpx.post(
            f"http://127.0.0.1:{target}/qwq-32b", json=CHAT, headers=AUTH, timeout=GRACE + 10
        )

    threads = [
        threading.Thread(target=post, args=("stuck", port)),
        threading.Thread(target=post, args=("quick", port_quick)),
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # both requests are with their upstreams
        stuck.terminate()
        finishing.terminate()
        for thread in threads:
            thread.join(GRACE + 10)
        stuck.communicate(timeout=GRACE + 5)
        finishing.communicate(timeout=GRACE + 5)
    finally:
        for process in (stuck, finishing):
            if process.poll() is None:
                process.kill()
                process.communicate()
        quick.stop()
    assert results["quick"].status_code == 200 and results["quick"].json()["response"] == "Finished in time."
    assert results["stuck"].status_code == 503
    assert results["stuck"].json()["error"].startswith("The gateway is shutting down")
    assert stuck.returncode in (0, -15) and finishing.returncode in (0, -15)


# (path, body, how the last event of a stream names the shutdown)
SURFACES: list[tuple[str, dict[str, Any], Any]] = [
    ("/qwq-32b", {**CHAT}, lambda e: e["detail"]["code"]),
    ("/v1/chat/completions", {"model": "qwq-32b", **CHAT}, lambda e: e["error"]["code"]),
    (
        "/v1/messages",
        {"model": "qwq-32b", "max_tokens": 64, **CHAT},
        lambda e: e["type"] == "error" and "shutting down" in e["error"]["message"] and "shutting_down",
    ),
    (
        "/client/v4/accounts/a/ai/run/@cf/qwen/qwq-32b",
        {**CHAT},
        lambda e: "shutting down" in e["errors"][0]["message"] and "shutting_down",
    ),
]


def test_every_dialect_ends_its_stream_in_its_own_shape(stalled: LiveServer) -> None:
    gateway = LiveServer(
        create_app(make_settings(upstream_url=f"{stalled.url}/v1", keepalive_interval=0.2, retry_attempts=0))
    )
    gateway.start()
    try:
        readers = [Reader(f"{gateway.url}{path}", {**body, "stream": True}) for path, body, _ in SURFACES]
        for reader in readers:
            reader.start()
            assert reader.first.wait(10)
        shutdown = gateway.app.app.state.app_state.shutdown

        async def end_now() -> None:
            shutdown.begin()
            shutdown.expire()

        gateway.call(end_now())
        for reader in readers:
            reader.join(10)
            assert not reader.is_alive()
        late = httpx.post(f"{gateway.url}/qwq-32b", json=CHAT, headers=AUTH, timeout=10)
    finally:
        gateway.stop()
    for reader, (_, _, code_of) in zip(readers, SURFACES, strict=True):
        assert reader.status == 200
        events = [line[6:] for line in reader.text.splitlines() if line.startswith("data: ")]
        assert "[DONE]" not in events, reader.text
        assert code_of(orjson.loads(events[-1])) == "shutting_down", reader.text
    assert late.status_code == 503  # a request arriving after the grace is not started
    # Every upstream request was closed: the stalled upstream holds no connection any more.
    deadline = time.monotonic() + 5
    while stalled.server.server_state.connections:
        assert time.monotonic() < deadline, "an upstream connection outlived its stream"
        time.sleep(0.05)
