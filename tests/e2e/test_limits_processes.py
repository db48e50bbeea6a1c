"""Limits held exactly across real gateway processes: two on one SQLite file, three on one redis-server,
and a slow upstream that never holds more requests than the key's `max_concurrency`."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import API_KEY, AUTH
from tests.e2e.limits_upstream import LimitsUpstream
from tests.e2e.test_state_processes import gateway
from tests.processes import stop
from tests.servers import serving


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


def test_max_concurrency_is_never_exceeded_at_the_upstream_across_two_processes(tmp_path: Path) -> None:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upstream = LimitsUpstream(delay=0.3)
    with serving(upstream) as server:
        started = [gateway(state_url, UPSTREAM_URL=f"{server.url}/v1") for _ in range(2)]
        try:
            urls = [url for _, url in started]
            made = httpx.post(
                f"{urls[0]}/admin/v1/keys", json={"name": "c", "max_concurrency": 3}, headers=AUTH
            )
            key = made.json()["key"]
            time.sleep(1.5)
            upstream.reset()
            statuses = asyncio.run(_burst(urls, key, 40))
            assert upstream.most <= 3
            assert statuses.count(200) == upstream.seen >= 3
            assert statuses.count(429) == 40 - statuses.count(200)
        finally:
            for process, _ in started:
                stop(process)


def test_a_client_that_waits_for_each_answer_is_never_refused_by_its_own_earlier_request(
    state_url: str,
) -> None:
    """Under `max_concurrency` 1, the next request sent the moment an answer ends finds the slot free:
    the earlier request's lease is freed no later than the round trip that admits the next one."""
    upstream = LimitsUpstream()
    with serving(upstream) as server:
        process, url = gateway(state_url, UPSTREAM_URL=f"{server.url}/v1")
        try:
            one = {"name": "one", "max_concurrency": 1}
            made = httpx.post(f"{url}/admin/v1/keys", json=one, headers=AUTH)
            headers = {"Authorization": f"Bearer {made.json()['key']}"}
            chat = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
            with httpx.Client(timeout=30) as client:
                statuses = [
                    client.post(f"{url}/v1/chat/completions", json=chat, headers=headers).status_code
                    for _ in range(30)
                ]
        finally:
            stop(process)
    assert statuses == [200] * 30
    assert upstream.most == 1


def test_a_models_max_concurrency_holds_for_every_key_across_two_processes(tmp_path: Path) -> None:
    """The model table's own limit guards the upstream: the static key has no limits of its own."""
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upstream = LimitsUpstream(delay=1.0)  # long enough that both slots are taken however slow the machine
    with serving(upstream) as server:
        table = tmp_path / "models.toml"
        table.write_text(
            "[models.qwq-32b]\nmax_concurrency = 2\n[[models.qwq-32b.targets]]\n"
            f'adapter = "openai"\nbase_url = "{server.url}/v1"\nmodel = "Qwen/QwQ-32B"\n'
        )
        started = [gateway(state_url, MODELS_FILE=str(table)) for _ in range(2)]
        try:
            upstream.reset()
            statuses = asyncio.run(_burst([url for _, url in started], API_KEY, 30))
        finally:
            outs = [stop(process) for process, _ in started]
        assert upstream.most == 2, (statuses, upstream.seen, outs)
        assert statuses.count(200) == upstream.seen
        assert statuses.count(429) == 30 - upstream.seen
