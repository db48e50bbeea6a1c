"""What a client of a limited key sees on each surface: rate-limit headers on its answers, and a 429 in
the surface's own shape with `Retry-After` when a limit or the budget refuses it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import AUTH
from worker.limits.answers import duration

CHAT = {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}


async def key_with(client: httpx.AsyncClient, **limits: Any) -> str:
    made = await client.post("/admin/v1/keys", json={"name": "limited", **limits}, headers=AUTH)
    assert made.status_code in (200, 201), made.text
    return str(made.json()["key"])


async def test_openai_answers_carry_the_ratelimit_headers_and_the_429_is_openais(
    client: httpx.AsyncClient,
) -> None:
    key = await key_with(client, rpm=2, tpm=100000)
    bearer = {"Authorization": f"Bearer {key}"}
    first = await client.post("/v1/chat/completions", json=CHAT, headers=bearer)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"] == "30s"
    assert first.headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 100000
    streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=bearer)
    assert streamed.status_code == 200 and streamed.headers["x-ratelimit-remaining-requests"] == "0"
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=bearer)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    error = refused.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    # A key without limits gets no such headers.
    plain = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert "x-ratelimit-limit-requests" not in plain.headers


async def test_anthropic_and_cloudflare_refusals_are_in_their_own_shapes(client: httpx.AsyncClient) -> None:
    key = await key_with(client, rpm=1)
    body = {"model": "qwq-32b", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    ok = await client.post("/v1/messages", json=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert ok.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    refused = await client.post("/v1/messages", json=body, headers=headers)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert refused.json()["error"]["type"] == "rate_limit_error"
    cloudflare = await client.post(
        "/client/v4/accounts/acct/ai/run/@cf/qwen/qwq-32b",
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert cloudflare.status_code == 429
    assert cloudflare.json()["errors"][0]["code"] == 3040


async def test_a_spent_budget_is_insufficient_quota(client: httpx.AsyncClient) -> None:
    # The default model is free: a budget of 0 is spent from the start.
    key = await key_with(client, budget_usd=0, budget_period="month")
    refused = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429 and "retry-after" in refused.headers
    error = refused.json()["error"]
    assert error["code"] == "insufficient_quota" and error["type"] == "insufficient_quota"
    cloudflare = await client.post(
        "/client/v4/accounts/acct/ai/run/@cf/qwen/qwq-32b",
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert cloudflare.status_code == 429 and cloudflare.json()["errors"][0]["code"] == 3036


def test_reset_durations_read_as_openais() -> None:
    assert [duration(s) for s in (0.02, 1, 6, 59.5, 60, 360)] == ["20ms", "1s", "6s", "1m0s", "1m0s", "6m0s"]


async def test_rate_limit_and_budget_refusals_are_counted_in_the_metrics(client: httpx.AsyncClient) -> None:
    limited = {"Authorization": f"Bearer {await key_with(client, rpm=1)}"}
    spent = {"Authorization": f"Bearer {await key_with(client, budget_usd=0)}"}
    for _ in range(3):
        await client.post("/v1/chat/completions", json=CHAT, headers=limited)
    await client.post("/v1/chat/completions", json=CHAT, headers=spent)
    page = (await client.get("/metrics", headers=AUTH)).text
    assert 'qwq_gateway_rate_limited_total{limit="requests"} 2.0' in page
    assert "qwq_gateway_budget_rejections_total 1.0" in page
