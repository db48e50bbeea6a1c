"""Managed keys and accounting across real gateway processes: one SQLite file or one redis-server shared by
two processes, revocation everywhere within a second, `kill -9`, and the store going away and coming back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import API_KEY, AUTH, NO_WRANGLER
from tests.processes import clean_env, first_answer, stop
from tests.redis_server import RedisServer
from tests.servers import free_port

ADMIN = "/admin/v1/keys"


def gateway(state_url: str, **settings: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    # Warnings only: nobody reads the pipe until the process ends, and a full pipe would block it.
    env = clean_env(
        WRANGLER_TOML=str(NO_WRANGLER),
        API_KEYS=API_KEY,
        STATE_URL=state_url,
        PORT=str(port),
        LOG_LEVEL="warning",
        **settings,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert first_answer(process, port, API_KEY).status_code == 200
    return process, f"http://127.0.0.1:{port}"


def answer(url: str, key: str) -> int:
    r = httpx.post(f"{url}/qwq-32b", json={"prompt": "hi"}, headers={"Authorization": f"Bearer {key}"})
    return r.status_code


def usage_total(url: str) -> int:
    r = httpx.get(f"{url}/admin/v1/usage", params={"group_by": "model"}, headers=AUTH)
    assert r.status_code == 200, r.text
    return sum(row["requests"] for row in r.json()["data"])


def test_a_key_made_on_one_process_works_on_another_and_its_revocation_reaches_it_within_a_second(
    state_url: str,
) -> None:
    (a, a_url), (b, b_url) = gateway(state_url), gateway(state_url)
    try:
        made = httpx.post(f"{a_url}{ADMIN}", json={"name": "shared"}, headers=AUTH).json()
        key = made["key"]
        assert answer(b_url, key) == 200  # not cached on b yet: read from the store on first use
        for _ in range(20):
            assert answer(b_url, key) == 200
        assert httpx.delete(f"{a_url}{ADMIN}/{made['id']}", headers=AUTH).status_code == 200
        revoked_at = time.monotonic()
        while answer(b_url, key) == 200:
            assert time.monotonic() - revoked_at < 1.0, (
                "b still accepts the key a second after its revocation"
            )
            time.sleep(0.02)
        assert answer(a_url, key) == 401
    finally:
        stop(a)
        stop(b)


def test_kill_9_loses_at_most_the_last_second_of_usage(state_url: str) -> None:
    process, url = gateway(state_url)
    answered: list[float] = []  # when each answer arrived
    with httpx.Client() as client:
        started = time.monotonic()
        while time.monotonic() - started < 3.0:
            r = client.post(f"{url}/qwq-32b", json={"prompt": "count"}, headers=AUTH)
            assert r.status_code == 200
            answered.append(time.monotonic())
    killed = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)
    reader, reader_url = gateway(state_url)  # a fresh process reads what the killed one had written
    try:
        stored = usage_total(reader_url) - 1  # the reader's own first request is in its sums too
        # The usage flush runs every second: what was answered up to 1 s before the kill (plus a
        # margin for the flush itself) must be in the store; the rest may be lost.
        assert stored >= sum(1 for t in answered if t < killed - 1.5)
        assert stored <= len(answered) + 1  # +1: the first answer the test waited for at start
    finally:
        stop(reader)


def test_a_graceful_shutdown_writes_every_request(state_url: str) -> None:
    process, url = gateway(state_url, USAGE_FLUSH_INTERVAL="60")  # only the shutdown flush can write them
    with httpx.Client() as client:
        for _ in range(25):
            assert client.post(f"{url}/qwq-32b", json={"prompt": "count"}, headers=AUTH).status_code == 200
    stop(process)  # SIGTERM
    reader, reader_url = gateway(state_url)
    try:
        assert usage_total(reader_url) - 1 == 25 + 1  # 25, the first answer at start; minus the reader's own
    finally:
        stop(reader)


def test_answers_go_on_while_redis_is_down_and_the_usage_arrives_when_it_returns(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    process, url = gateway(server.url)
    try:
        key = httpx.post(f"{url}{ADMIN}", json={"name": "outage"}, headers=AUTH).json()["key"]
        assert answer(url, key) == 200
        server.stop()
        for _ in range(5):  # served from the cached key; usage kept in memory
            assert answer(url, key) == 200
        time.sleep(1.5)  # at least one flush fails meanwhile
        server.start()  # an empty redis on the same port (persistence is off), as after a restart
        deadline = time.monotonic() + 10
        while True:
            r = httpx.get(f"{url}/admin/v1/usage", params={"group_by": "key"}, headers=AUTH)
            if r.status_code == 200 and any(row["requests"] >= 5 for row in r.json()["data"]):
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
    finally:
        out = stop(process)
        server.stop()
    assert "state store unreachable" in out or "usage kept in memory" in out


def test_an_unreachable_store_at_start_is_one_clear_line_and_status_2() -> None:
    port = free_port()
    env = clean_env(
        WRANGLER_TOML=str(NO_WRANGLER), API_KEYS=API_KEY, STATE_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qwq-gateway: cannot reach the Redis state store"), (
        done.stderr
    )
