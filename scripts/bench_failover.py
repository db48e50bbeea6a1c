"""What failover costs: latency of non-streamed requests when the first target refuses connections.

    .venv/bin/python scripts/bench_failover.py [--requests 200]

Runs the simulator as a real upstream on a local socket and the gateway in-process (httpx's ASGI
transport, so the figures are the gateway's own work plus one real upstream round trip), for three
model tables: one healthy target; a refusing target before it with breakers off (every request pays
for 1 + RETRY_ATTEMPTS refused connections and their backoff); the same with breakers on (after
BREAKER_FAILURES failures the refusing target is skipped until its cool-down ends).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from worker.app import create_app
from worker.config.settings import load_settings
from worker.simulator.server import SimulatorServer

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_simulator() -> str:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(SimulatorServer(), port=port, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}/v1"


def table(*urls: str) -> str:
    text = "[models.qwq-32b]\n"
    for url in urls:
        text += (
            f'[[models.qwq-32b.targets]]\nadapter = "openai"\nbase_url = "{url}"\nmodel = "Qwen/QwQ-32B"\n'
        )
    return text


async def measure(models: str, requests: int, **settings: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "models.toml"
        path.write_text(models)
        env = {"API_KEYS": KEY, "MODELS_FILE": str(path), "LOG_LEVEL": "error", **settings}
        app = create_app(load_settings(env, wrangler_toml=Path("/nonexistent")))
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
        latencies = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            for _ in range(requests):
                started = time.perf_counter()
                r = await client.post("/qwq-32b", json=body, headers={"Authorization": f"Bearer {KEY}"})
                latencies.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
        return latencies


def report(name: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:44} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   max {ms[-1]:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    healthy = serve_simulator()
    refused = f"http://127.0.0.1:{free_port()}/v1"
    n = args.requests
    report("one healthy target", asyncio.run(measure(table(healthy), n)))
    report(
        "refused first, breakers off", asyncio.run(measure(table(refused, healthy), n, BREAKER_FAILURES="0"))
    )
    report("refused first, breakers on (defaults)", asyncio.run(measure(table(refused, healthy), n)))


if __name__ == "__main__":
    main()
