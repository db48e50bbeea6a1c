"""Soak: minutes of mixed traffic, upstream faults included, against a live gateway; what it holds
before and after.

    .venv/bin/python scripts/soak.py [--minutes 20] [--clients 8]

Starts the fault upstream of the test suite (`tests/faults/upstream.py`) and a gateway process (uvicorn
on `worker.app.create_app`, the fault suite's settings: short timeouts, no retries), then runs
`--clients` concurrent clients for `--minutes`, each sending requests on all four surfaces, streamed or
not, most of them healthy and the rest meeting one upstream fault each (resets, stalls, errors, bad
shapes, compressed answers, bodies held open after `[DONE]`, clients that leave mid-stream).

It prints, once the traffic has warmed up and again once it has stopped and settled: the gateway's
RSS and open file descriptors (from /proc), the asyncio tasks on its loop, its upstream pool's open and
busy connections and the bodies still being drained (a snapshot the gateway process writes every half
second). Flat figures mean nothing leaks. It also counts the answers by outcome; an answer that is
neither the expected success nor an error ("silent") is a bug, and makes the exit status 1.

A benchmark, not a test (tests/faults/test_soak.py only checks that it runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fault upstream and the harness live with the tests

import httpx  # noqa: E402

from tests.faults.harness import (  # noqa: E402
    FAULT_SETTINGS,
    KEY,
    SURFACES,
    UpstreamThread,
    model_table,
    outcome,
    request,
)
from tests.processes import clean_env  # noqa: E402
from tests.servers import free_port  # noqa: E402

HEALTHY = ("ok", "gzip", "br", "zstd", "deflate", "open-after-done")
FAULTY = (
    "reset-early", "reset-late", "stall", "429", "500", "503-html", "shape", "html", "truncated-json",
    "missing-done", "trickle", "unknown-encoding", "done-only", "no-choices", "role-only", "huge:2",
    "refused", "leave",
)  # fmt: skip


def serve_gateway(port: int, out: Path) -> None:
    """The gateway process: uvicorn on the app, plus a snapshot of its loop written to `out`."""
    import uvicorn

    from worker.app import create_app
    from worker.config.settings import load_settings
    from worker.introspect import snapshot
    from worker.upstreams.wire.drain import draining

    app = create_app(load_settings())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.05)
        state = app.app.state.app_state
        while not serving.done():
            seen = await snapshot(state)
            figures = {
                "tasks": seen.tasks - 1,  # less this writer's own task
                "pool_open": seen.upstream.open,
                "pool_busy": seen.upstream.busy,
                "draining": draining(),
            }
            out.with_suffix(".tmp").write_text(json.dumps(figures))
            out.with_suffix(".tmp").replace(out)
            await asyncio.sleep(0.5)

    asyncio.run(run())


def figures(pid: int, snapshot: Path) -> dict[str, Any]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return {
        "rss_mib": round(rss / 1024, 1),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        **json.loads(snapshot.read_text()),
    }


async def client(url: str, until: float, tally: Counter[str], rng: random.Random) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        while time.monotonic() < until:
            fault = rng.choice(HEALTHY) if rng.random() < 0.6 else rng.choice(FAULTY)
            surface, stream = rng.choice(SURFACES), rng.random() < 0.5
            model = "qwq-refused" if fault == "refused" else "qwq-32b"
            path, body, headers = request(
                surface, f"fault:{'ok' if fault == 'leave' else fault}", stream, model
            )
            try:
                if fault == "leave":  # a client that goes away mid-answer
                    async with http.stream("POST", url + path, json=body, headers=headers) as response:
                        async for _ in response.aiter_bytes():
                            break
                    tally["left"] += 1
                    continue
                seen = outcome(surface, await http.post(url + path, json=body, headers=headers))
            except httpx.HTTPError as exc:
                tally[f"client error {type(exc).__name__}"] += 1
                continue
            if fault in HEALTHY:
                good = seen.status == 200 and not seen.errors and "Hello from the fault upstream" in seen.text
                tally["answered" if good else "healthy upstream but no answer"] += 1
            elif seen.errors and seen.ends == 0 and seen.after_end == 0:
                tally["error reported"] += 1
            elif fault.startswith("huge") and seen.status == 200 and seen.ends == (1 if stream else 0):
                tally["answered"] += 1
            else:
                tally["silent"] += 1


async def traffic(url: str, seconds: float, clients: int, tally: Counter[str]) -> None:
    until = time.monotonic() + seconds
    rngs = [random.Random(seed) for seed in range(clients)]
    await asyncio.gather(*(client(url, until, tally, rng) for rng in rngs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve-gateway", nargs=2, metavar=("PORT", "SNAPSHOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(int(args.serve_gateway[0]), Path(args.serve_gateway[1]))
        return 0

    upstream = UpstreamThread().start()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    snapshot = work / "snapshot.json"
    port = free_port()
    env = clean_env(
        API_KEYS=KEY, MODELS_FILE=str(model_table(work / "models.toml", upstream.port)), **FAULT_SETTINGS
    )
    log = (work / "gateway.log").open("w")
    gateway = subprocess.Popen(
        [sys.executable, __file__, "--serve-gateway", str(port), str(snapshot)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not snapshot.exists():
            if gateway.poll() is not None or time.monotonic() > deadline:
                print("the gateway did not start", file=sys.stderr)
                return 2
            time.sleep(0.1)
        tally: Counter[str] = Counter()
        total = args.minutes * 60
        warm = min(10.0, total / 4)
        asyncio.run(traffic(url, warm, args.clients, tally))
        time.sleep(1.0)
        start = figures(gateway.pid, snapshot)
        asyncio.run(traffic(url, total - warm, args.clients, tally))
        time.sleep(4.0)  # timeouts, drains and keep-alive expiry run their course
        end = figures(gateway.pid, snapshot)
        print(f"soak: {args.minutes:g} min, {args.clients} clients, {sum(tally.values())} requests")
        print(f"  (the gateway's log: {log.name})")
        for name in sorted(start):
            print(f"  {name:10} start {start[name]:>8}   end {end[name]:>8}")
        for name, count in sorted(tally.items()):
            print(f"  {count:8d}  {name}")
        return 1 if tally["silent"] or tally["healthy upstream but no answer"] else 0
    finally:
        gateway.terminate()
        gateway.wait(30)
        log.close()
        upstream.stop()


if __name__ == "__main__":
    raise SystemExit(main())
