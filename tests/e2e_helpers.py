"""Shared pieces of the feature end-to-end tests: a gateway with a model table, requests, SSE parsing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import AUTH
from tests.servers import LiveServer

WEATHER_FLAT = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}
CLOCK_NESTED = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a zone",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "description": "IANA zone"}},
        },
    },
}

# A conversation that called `get_weather` and carries its result.
WEATHER_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call000000001",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call000000001", "content": '{"temperature": 21, "sky": "clear"}'},
]


def gateway_with_table(
    factory: Callable[..., LiveServer], tmp_path: Path, upstream: LiveServer, **target: Any
) -> LiveServer:
    """A live gateway whose one model `qwq-32b` goes to `upstream` with extra target fields."""
    lines = [
        "[models.qwq-32b]",
        'cloudflare_id = "@cf/qwen/qwq-32b"',
        "[[models.qwq-32b.targets]]",
        'adapter = "openai"',
        f'base_url = "{upstream.url}/v1"',
        'model = "Qwen/QwQ-32B"',
    ]
    lines += [f"{key} = {orjson.dumps(value).decode()}" for key, value in target.items()]
    table = tmp_path / "models.toml"
    table.write_text("\n".join(lines) + "\n")
    return factory(models_file=str(table))


def post(gateway: LiveServer, body: object, query: str = "", **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/qwq-32b{query}", json=body, headers={**AUTH, **headers}, timeout=15)


def sse_events(response: httpx.Response) -> list[Any]:
    """The `data:` payloads of an SSE answer, decoded (`[DONE]` kept as the string)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    out: list[Any] = []
    for line in response.text.split("\n"):
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out


def chunk_deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e.get("choices")]
