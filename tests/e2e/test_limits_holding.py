"""Tokens per minute and budgets held across real gateway processes (two on one SQLite file, three on
one redis-server), measured by what a fake upstream really served and reported in its usage.

Each request asks for `max_tokens` 1000 and says "hi": its reservation is dominated by `max_tokens`
(the prompt's share is whatever the token counter says, a few tokens), so the bounds below hold
whichever counter the gateway uses.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import AUTH
from tests.e2e.limits_upstream import LimitsUpstream
from tests.e2e.test_state_processes import gateway
from tests.processes import stop
from tests.servers import serving

MAX_TOKENS = 1000
PROMPT_ROOM = 50
"""More than the prompt "hi" counts as, with any counter and chat template."""
RESERVATION = MAX_TOKENS + PROMPT_ROOM
PRICE_PER_M = 10.0
"""USD per million tokens, in and out: a request's worst case is at most RESERVATION of them."""


def table(directory: Path, base_url: str) -> str:
    path = directory / "models.toml"
    path.write_text(
        f"[models.qwq-32b]\nprice_input_per_m = {PRICE_PER_M}\nprice_output_per_m = {PRICE_PER_M}\n"
        f'[[models.qwq-32b.targets]]\nadapter = "openai"\nbase_url = "{base_url}/v1"\n'
        'model = "Qwen/QwQ-32B"\n'
    )
    return str(path)


async def burst(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    chat = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": MAX_TOKENS}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{urls[i % len(urls)]}/v1/chat/completions",
                    json=chat,
                    headers={"Authorization": f"Bearer {key}"},
                )
                for i in range(count)
            )
        )


def processes(state_url: str, models_file: str) -> list[tuple[subprocess.Popen[str], str]]:
    count = 3 if state_url.startswith("redis") else 2
    return [gateway(state_url, MODELS_FILE=models_file) for _ in range(count)]


def make_key(url: str, **limits: Any) -> str:
    made = httpx.post(f"{url}/admin/v1/keys", json={"name": "held", **limits}, headers=AUTH)
    assert made.status_code in (200, 201), made.text
    time.sleep(1.5)  # every process has polled the new key before the burst
    return str(made.json()["key"])


def test_a_tpm_limit_is_never_exceeded_by_more_than_one_reservation(state_url: str, tmp_path: Path) -> None:
    tpm = 10 * RESERVATION
    upstream = LimitsUpstream(share=1.0)  # answers use all they reserved: nothing is given back
    with serving(upstream) as server:
        started = processes(state_url, table(tmp_path, server.url))
        try:
            urls = [url for _, url in started]
            key = make_key(urls[0], tpm=tpm)
            upstream.reset()
            began = time.monotonic()
            replies = asyncio.run(burst(urls, key, 120))
            elapsed = time.monotonic() - began
        finally:
            for process, _ in started:
                stop(process)
    statuses = [r.status_code for r in replies]
    assert statuses.count(200) == upstream.seen
    assert statuses.count(429) == 120 - upstream.seen
    assert {r.json()["error"]["type"] for r in replies if r.status_code == 429} == {"tokens"}
    # GCRA lets the allowance refill at tpm/60 a second while the burst lasts.
    refill = tpm * elapsed / 60
    assert upstream.tokens <= tpm + RESERVATION + refill, (upstream.tokens, upstream.seen, elapsed)
    # And it is the limit, not a fraction of it: at least the whole tpm's worth of full reservations.
    assert upstream.seen >= tpm // RESERVATION


def test_a_budget_is_never_overrun_by_more_than_one_requests_worst_case(
    state_url: str, tmp_path: Path
) -> None:
    worst = RESERVATION * PRICE_PER_M / 1_000_000
    budget = round(8 * worst, 6)
    # Answers use a third of what they reserve: each settlement gives money back, and later bursts pass.
    upstream = LimitsUpstream(share=1 / 3)
    with serving(upstream) as server:
        started = processes(state_url, table(tmp_path, server.url))
        try:
            urls = [url for _, url in started]
            key = make_key(urls[0], budget_usd=budget, budget_period="day")
            upstream.reset()
            replies: list[httpx.Response] = []
            for _ in range(6):
                replies += asyncio.run(burst(urls, key, 40))
                time.sleep(0.3)  # finished requests are settled (in batches, within SETTLE_DELAY)
        finally:
            for process, _ in started:
                stop(process)
    spent = upstream.tokens * PRICE_PER_M / 1_000_000
    refused = [r for r in replies if r.status_code == 429]
    assert len(replies) - len(refused) == upstream.seen
    assert {r.json()["error"]["code"] for r in refused} == {"insufficient_quota"}
    assert spent <= budget + worst, (spent, budget, worst, upstream.seen)
    # Reconciliation gave back what answers did not use: well over the 8 worst cases were served.
    assert upstream.seen > 8 and spent > budget - worst
