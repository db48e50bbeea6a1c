"""Limits through the failures of a real deployment: a gateway process killed with `kill -9` while it
holds concurrency leases, and the redis-server stopped and started again under a running gateway."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import AUTH
from tests.e2e.limits_upstream import LimitsUpstream
from tests.e2e.test_state_processes import gateway
from tests.processes import stop
from tests.redis_server import RedisServer
from tests.servers import serving

CHAT = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
LEASE_TTL = 3.0


def post(url: str, key: str, timeout: float = 30) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
    )


def held_request(url: str, key: str) -> None:
    """A request whose gateway is killed under it: the client sees the connection end."""
    with contextlib.suppress(httpx.TransportError):
        post(url, key)


def test_kill_9_of_a_process_holding_leases_frees_them_within_their_time_to_live(
    state_url: str,
) -> None:
    upstream = LimitsUpstream()
    with serving(upstream) as server:
        settings = {"UPSTREAM_URL": f"{server.url}/v1", "LIMITS_LEASE_TTL": str(LEASE_TTL)}
        upstream.go.set()  # the start-up requests of `gateway` are answered at once
        doomed, doomed_url = gateway(state_url, **settings)
        survivor, survivor_url = gateway(state_url, **settings)
        upstream.go.clear()
        threads: list[threading.Thread] = []
        try:
            made = httpx.post(
                f"{doomed_url}/admin/v1/keys", json={"name": "c", "max_concurrency": 2}, headers=AUTH
            )
            key = made.json()["key"]
            time.sleep(1.5)  # both processes know the key
            threads = [threading.Thread(target=held_request, args=(doomed_url, key)) for _ in range(2)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while upstream.now < 2:
                assert time.monotonic() < deadline, "the held requests never reached the upstream"
                time.sleep(0.02)
            admitted_by = time.monotonic()
            doomed.kill()  # SIGKILL: no settlement, no shutdown, the leases stay in the store
            doomed.wait(timeout=10)
            refused = post(survivor_url, key)
            assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
            assert "concurrent" in refused.json()["error"]["message"]
            upstream.go.set()
            while (answered := post(survivor_url, key)).status_code == 429:
                assert time.monotonic() - admitted_by < LEASE_TTL + 2, (
                    "the leases outlived their time-to-live"
                )
                time.sleep(0.1)
            assert answered.status_code == 200
            assert time.monotonic() - admitted_by >= LEASE_TTL - 0.5  # freed by expiry, not before
        finally:
            upstream.go.set()
            for thread in threads:
                thread.join(timeout=30)
            if doomed.poll() is None:
                doomed.kill()
                doomed.communicate()
            stop(survivor)


@pytest.mark.parametrize("policy", ["closed", "open"])
def test_redis_stopped_and_started_again_under_a_running_gateway(policy: str, tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    process, url = gateway(server.url, LIMITS_ON_STORE_ERROR=policy)
    try:
        made = httpx.post(f"{url}/admin/v1/keys", json={"name": "r", "rpm": 1000}, headers=AUTH)
        key = made.json()["key"]
        before = post(url, key)
        assert before.status_code == 200 and before.headers["x-ratelimit-limit-requests"] == "1000"
        redis.Redis(port=server.port).save()  # the key survives the restart (dump.rdb in its directory)
        server.stop()
        during = [post(url, key) for _ in range(3)]
        if policy == "closed":
            assert {r.status_code for r in during} == {503}
            assert {r.json()["error"]["code"] for r in during} == {"limits_unavailable"}
        else:
            assert {r.status_code for r in during} == {200}
            assert all("x-ratelimit-limit-requests" not in r.headers for r in during)
        # A key without limits never needed the limits store.
        assert httpx.post(f"{url}/qwq-32b", json={"prompt": "hi"}, headers=AUTH).status_code == 200
        server.start()
        deadline = time.monotonic() + 10
        while (
            after := post(url, key)
        ).status_code != 200 or "x-ratelimit-limit-requests" not in after.headers:
            assert time.monotonic() < deadline, after.text
            time.sleep(0.2)
        assert process.poll() is None  # the same gateway, never restarted
    finally:
        out = stop(process)
        server.stop()
    assert "limits store unreachable" in out and "limits store reachable again" in out
    assert "Traceback" not in out
