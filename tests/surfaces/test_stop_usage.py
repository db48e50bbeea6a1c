"""Usage after a stop sequence the gateway enforces: everything the client received is counted, the
reasoning included, on both surfaces that take stop sequences."""

from __future__ import annotations

import httpx

from tests.conftest import API_KEY, AUTH
from worker.core.tokenizer import count

ASK = [{"role": "user", "content": "What is an edge gateway?"}]
ANTHROPIC = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}


async def test_openai_stop_counts_the_reasoning(client: httpx.AsyncClient) -> None:
    body = {"model": "qwq-32b", "messages": ASK}
    whole = (await client.post("/v1/chat/completions", json=body, headers=AUTH)).json()
    stopped = (await client.post("/v1/chat/completions", json={**body, "stop": ["raw"]}, headers=AUTH)).json()
    assert stopped["choices"][0]["message"]["content"] == "Edge deployments trade "
    full, cut = whole["usage"], stopped["usage"]
    thought = cut["completion_tokens_details"]["reasoning_tokens"]
    # the estimate counts the reasoning the client received in QwQ's tokens (the simulator's own figure
    # counts its output pieces, `</think>` and the line breaks around it included)
    reasoning = stopped["choices"][0]["message"]["reasoning_content"]
    assert reasoning == whole["choices"][0]["message"]["reasoning_content"]
    assert thought == count(reasoning) > 0
    assert full["completion_tokens_details"]["reasoning_tokens"] >= thought
    assert cut["completion_tokens"] == thought + 4  # "Edge", " deployments", " trade", " "
    assert cut["estimated"] is True


async def test_anthropic_stop_sequence_counts_the_thinking(client: httpx.AsyncClient) -> None:
    body = {
        "model": "qwq-32b",
        "max_tokens": 1024,
        "thinking": {"type": "enabled", "budget_tokens": 512},
        "messages": ASK,
        "stop_sequences": ["raw"],
    }
    answer = (await client.post("/v1/messages", json=body, headers=ANTHROPIC)).json()
    assert answer["stop_reason"] == "stop_sequence" and answer["stop_sequence"] == "raw"
    thinking = next(b["thinking"] for b in answer["content"] if b["type"] == "thinking")
    assert thinking.startswith('Okay, the user asks: "What is an edge gateway?"')
    assert answer["usage"]["output_tokens"] > 40  # the thinking, not only the three answer tokens
