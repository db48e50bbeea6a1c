"""Throughput and latency of each surface against one live gateway on the simulator (zero token delay).

With the simulator answering at once, what is measured is the gateway's own cost per request on each
surface: parsing and validation, the IR, rendering, and the HTTP work. `/qwq-32b` is the baseline.

    .venv/bin/python scripts/bench_surfaces.py [--requests 400] [--concurrency 8] [--stream]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from worker.app import create_app
from worker.config.settings import load_settings

KEY = "bench-key"
ASK = [{"role": "user", "content": "What is an edge gateway?"}]
SURFACES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "POST /qwq-32b": ("/qwq-32b", {"messages": ASK}, {}),
    "Cloudflare REST": ("/client/v4/accounts/acc/ai/run/@cf/qwen/qwq-32b", {"messages": ASK}, {}),
    "OpenAI": ("/v1/chat/completions", {"model": "qwq-32b", "messages": ASK}, {}),
    "Anthropic": (
        "/v1/messages",
        {"model": "qwq-32b", "max_tokens": 512, "messages": ASK},
        {"x-api-key": KEY},
    ),
}


def start_gateway() -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings({"API_KEYS": KEY, "LOG_LEVEL": "warning"}, wrangler_toml=Path("/nonexistent"))
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, thread


async def measure(
    url: str, path: str, body: dict[str, Any], headers: dict[str, str], n: int, width: int
) -> str:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {KEY}", **headers}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(path, json=body, headers=headers)
                await response.aread()
                assert response.status_code == 200, response.text[:200]
                latencies.append(time.perf_counter() - started)

        await client.post(path, json=body, headers=headers)  # warm-up
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(width)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return f"{n / elapsed:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--stream", action="store_true", help="ask for streamed answers")
    args = parser.parse_args()
    url, server, thread = start_gateway()
    try:
        for name, (path, body, headers) in SURFACES.items():
            payload = {**body, "stream": True} if args.stream else body
            result = asyncio.run(measure(url, path, payload, headers, args.requests, args.concurrency))
            print(f"{name:18} {result}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
