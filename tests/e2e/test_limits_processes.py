"""Limits held exactly across real gateway processes: two on one SQLite file, three on one redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import time

import httpx

from tests.conftest import AUTH
from tests.e2e.test_state_processes import gateway
from tests.processes import stop


async def _burst(urls: list[str], key: str, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        replies = await asyncio.gather(
            *(
                client.post(
                    f"{urls[i % len(urls)]}/v1/chat/completions",
                    json={
                        "model": "qwq-32b",
                        "messages": [{"role": "user", "content": "hi"}],
                        "max_tokens": 20,
                    },
                    headers={"Authorization": f"Bearer {key}"},
                )
                for i in range(count)
            )
        )
    return [r.status_code for r in replies]


def test_200_concurrent_requests_for_a_key_with_rpm_10_give_exactly_10_answers(state_url: str) -> None:
    count = 3 if state_url.startswith("redis") else 2
    started: list[tuple[subprocess.Popen[str], str]] = []
    try:
        for _ in range(count):
            started.append(gateway(state_url))
        urls = [url for _, url in started]
        made = httpx.post(f"{urls[0]}/admin/v1/keys", json={"name": "burst", "rpm": 10}, headers=AUTH)
        key = made.json()["key"]
        time.sleep(1.5)  # every process has polled the new key before the burst (no first-use read in it)
        statuses = asyncio.run(_burst(urls, key, 200))
        assert statuses.count(200) == 10, sorted(set(statuses))
        assert statuses.count(429) == 190
    finally:
        for process, _ in started:
            stop(process)
