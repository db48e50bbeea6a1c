"""Benchmark of the streaming path: what the gateway adds to a stream, and what an open stream costs.

    .venv/bin/python scripts/bench/streaming.py            # about a minute on 2 cores

Everything runs on 127.0.0.1 in separate processes: the gateway (`qwq-gateway`, one worker, as
deployed), the upstreams (the `Firehose` fake, which streams as fast as it can, and the QwQ simulator
server, pacing tokens) and this client. Each figure is measured twice in one run, reading the upstream
directly and through the gateway, and printed side by side:

1. time to the first event of a stream (median and p95 over sequential requests);
2. per-event cost of a long stream (20,000 small events, best of 3);
3. resident memory (RSS) of the gateway process with 500 streams open at once, and how soon the
   upstream saw all 500 requests closed once their clients left.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
KEY = "bench-key"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(
    args: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"{args[2]} did not start: {err[-500:]}") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Target:
    """Where a stream is read from: the upstream directly, or the gateway in front of it."""

    def __init__(self, url: str, body_extra: dict[str, object], headers: dict[str, str]) -> None:
        self.url, self.body_extra, self.headers = url, body_extra, headers

    def body(self, content: str, **extra: object) -> dict[str, object]:
        return {
            "messages": [{"role": "user", "content": content}],
            "stream": True,
            **self.body_extra,
            **extra,
        }


def direct(upstream: str) -> Target:
    return Target(f"{upstream}/v1/chat/completions", {"model": "Qwen/QwQ-32B"}, {})


def via(gateway: str) -> Target:
    return Target(f"{gateway}/qwq-32b", {}, {"authorization": f"Bearer {KEY}"})


async def first_event_ms(client: httpx.AsyncClient, target: Target, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        body = target.body("hi", max_tokens=1)
        async with client.stream("POST", target.url, json=body, headers=target.headers) as response:
            first = None
            async for chunk in response.aiter_bytes():  # read to the end: the connection is reused
                if first is None and b"data: " in chunk:
                    first = (time.perf_counter() - started) * 1000
            assert first is not None
            times.append(first)
    return times


async def stream_seconds(client: httpx.AsyncClient, target: Target, events: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        body = target.body("all", max_tokens=events)
        async with client.stream("POST", target.url, json=body, headers=target.headers) as response:
            tail = b""
            async for chunk in response.aiter_bytes():
                tail = (tail + chunk)[-64:]
        assert tail.endswith(b"data: [DONE]\n\n"), tail
        best = min(best, time.perf_counter() - started)
    return best


async def open_streams(client: httpx.AsyncClient, target: Target, count: int) -> tuple[list[object], float]:
    """Open `count` streams and read each one's first event; return the open responses."""
    opened: list[object] = []
    started = time.perf_counter()

    async def one() -> None:
        request = client.build_request("POST", target.url, json=target.body("Think"), headers=target.headers)
        response = await client.send(request, stream=True)
        async for chunk in response.aiter_bytes():
            if b"data: " in chunk:
                break
        opened.append(response)

    await asyncio.gather(*(one() for _ in range(count)))
    return opened, time.perf_counter() - started


async def close_all(opened: list[object], simulator: str, count: int) -> float:
    """Close every stream; return ms until the upstream saw them all cancelled and none open."""
    started = time.perf_counter()
    await asyncio.gather(*(r.aclose() for r in opened))  # type: ignore[attr-defined]
    async with httpx.AsyncClient() as probe:
        while True:
            stats = (await probe.get(f"{simulator}/_sim/stats")).json()
            if stats["cancelled"] >= count and stats["open"] == 0:
                return (time.perf_counter() - started) * 1000
            await asyncio.sleep(0.005)


def row(name: str, upstream: float, gateway: float, unit: str) -> str:
    ratio = gateway / upstream if upstream else float("nan")
    added = gateway - upstream
    return f"| {name} | {upstream:.2f} {unit} | {gateway:.2f} {unit} | {added:+.2f} {unit} | x{ratio:.2f} |"


async def fast_figures(
    client: httpx.AsyncClient, upstream: str, gateway: str, args: argparse.Namespace, lines: list[str]
) -> None:
    await first_event_ms(client, direct(upstream), 20)  # warm-up: connections, imports, caches
    await first_event_ms(client, via(gateway), 20)
    up_t = await first_event_ms(client, direct(upstream), args.runs)
    gw_t = await first_event_ms(client, via(gateway), args.runs)
    lines.append(row("first event, median", statistics.median(up_t), statistics.median(gw_t), "ms"))
    p95 = max(0, int(args.runs * 0.95) - 1)
    lines.append(row("first event, p95", sorted(up_t)[p95], sorted(gw_t)[p95], "ms"))
    up_s = await stream_seconds(client, direct(upstream), args.events)
    gw_s = await stream_seconds(client, via(gateway), args.events)
    per = (up_s / args.events * 1e6, gw_s / args.events * 1e6)
    lines.append(row(f"per event ({args.events} events)", *per, "µs"))


async def open_stream_figures(
    client: httpx.AsyncClient, simulator: str, gateway: str, pid: int, count: int
) -> list[str]:
    await first_event_ms(client, via(gateway), 5)
    idle = rss_mib(pid)
    await client.post(f"{simulator}/_sim/reset")
    opened, took = await open_streams(client, via(gateway), count)
    loaded = rss_mib(pid)
    closed_ms = await close_all(opened, simulator, count)
    await asyncio.sleep(1)
    after = rss_mib(pid)
    per_stream = (loaded - idle) * 1024 / count
    return [
        f"gateway RSS: {idle:.1f} MiB idle, {loaded:.1f} MiB with {count} open streams "
        f"(+{per_stream:.1f} KiB a stream), {after:.1f} MiB after they closed",
        f"{count} streams opened (first event each) in {took * 1000:.0f} ms; the upstream saw all "
        f"{count} requests closed {closed_ms:.0f} ms after the clients began closing them",
    ]


async def measure(args: argparse.Namespace) -> None:
    fire_port, sim_port, gw_port, gw_sim_port = free_port(), free_port(), free_port(), free_port()
    fire, sim = f"http://127.0.0.1:{fire_port}", f"http://127.0.0.1:{sim_port}"
    gateway_env = {
        "API_KEYS": KEY,
        "LOG_LEVEL": "warning",
        "POOL_MAX_CONNECTIONS": "2048",
        "POOL_MAX_KEEPALIVE": "64",
        "WRANGLER_TOML": "/nonexistent/wrangler.toml",
    }
    firehose_cmd = [
        PYTHON,
        "-m",
        "tests.firehose",
        "--port",
        str(fire_port),
        "--piece-bytes",
        "16",
    ]
    sim_cmd = [PYTHON, "-m", "worker.simulator.server", "--port", str(sim_port), "--token-delay", "1.0"]
    limits = httpx.Limits(max_connections=2048, max_keepalive_connections=64)
    lines = [
        "| measure | upstream directly | through the gateway | added | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    gateway_a = [PYTHON, "-m", "worker.cli", "--port", str(gw_port)]
    with (
        process(firehose_cmd, fire_port),
        process(gateway_a, gw_port, {**gateway_env, "UPSTREAM_URL": f"{fire}/v1"}),
    ):
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            await fast_figures(client, fire, f"http://127.0.0.1:{gw_port}", args, lines)
    gateway_b = [PYTHON, "-m", "worker.cli", "--port", str(gw_sim_port)]
    with (
        process(sim_cmd, sim_port),
        process(gateway_b, gw_sim_port, {**gateway_env, "UPSTREAM_URL": f"{sim}/v1"}) as gw_proc,
    ):
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            gateway = f"http://127.0.0.1:{gw_sim_port}"
            lines += ["", *await open_stream_figures(client, sim, gateway, gw_proc.pid, args.streams)]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="sequential requests for first-event latency")
    parser.add_argument("--events", type=int, default=20000, help="events in the long stream")
    parser.add_argument("--streams", type=int, default=500, help="concurrent open streams for RSS")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
