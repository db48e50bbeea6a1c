"""Cost of validating one `/:modelSlug` body, in µs (run with the project's venv; prints one JSON line).

Two bodies: a typical chat (system + user, a few sampling fields) and a long one (100 messages and 8
tools). Each is decoded from bytes and validated, as the endpoint does, many times; the median of five
rounds is reported.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

from worker.dialects.validation import validate_body


def typical() -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "What is the capital of France? Answer in one word."},
        ],
        "max_tokens": 256,
        "temperature": 0.6,
    }


def long_with_tools() -> dict[str, object]:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "description": "c or f"},
                },
                "required": ["city"],
            },
        },
    }
    messages = [{"role": "system", "content": "You are a helpful assistant with tools."}]
    for i in range(99):
        role = "user" if i % 2 == 0 else "assistant"
        messages.append({"role": role, "content": f"Message number {i} about the weather in Paris."})
    return {"messages": messages, "tools": [tool] * 8, "max_tokens": 512}


def cost_us(body: dict[str, object], rounds: int = 5, per_round: int = 400) -> float:
    raw = orjson.dumps(body)
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(per_round):
            validate_body(orjson.loads(raw))
        results.append((time.perf_counter() - started) / per_round * 1e6)
    return statistics.median(results)


if __name__ == "__main__":
    validate_body(typical())  # warm-up; also proves both bodies are accepted
    validate_body(long_with_tools())
    print(
        json.dumps(
            {"typical_us": cost_us(typical()), "long_tools_us": cost_us(long_with_tools(), per_round=50)}
        )
    )
