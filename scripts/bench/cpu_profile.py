"""Where a request's time goes: the gateway's ASGI app against the thin reference's, in one process.

Both apps are driven the same way, without an HTTP server in front (so uvicorn's share, the same for
both, is left out): a request scope, its body, and a `send` that keeps the answer. Both reach the same
upstream over loopback (an nginx serving the benchmark's fixed answers, started here as the runner
does), through their own aiohttp sessions. Per app: the CPU time per request (`time.process_time`,
the median of a few rounds of `--requests` requests at `--concurrency` at once), then, with
`--profile`, the functions that take the most CPU per request under cProfile (which slows everything
by about the same factor, so read its figures as shares).

    .venv/bin/python scripts/bench/cpu_profile.py [--requests 3000] [--concurrency 32] [--profile N]
    .venv/bin/python scripts/bench/cpu_profile.py --env METRICS=0 --env STATE_URL=off   # features off
    .venv/bin/python scripts/bench/cpu_profile.py --stages   # what async generator stages cost an answer
    .venv/bin/python scripts/bench/cpu_profile.py --kind sse512 --concurrency 8   # streams: CPU per event
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upstream
from load import Request
from procs import Server, free_port, start
from targets import GATEWAY_KEY, _gateway_models, gateway_slug_request, thin_request

EVENTS = {"sse64": 64, "sse512": 512}  # content events per stream of each kind

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope_of(request: Request) -> dict[str, Any]:
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(request.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


FIRST_BODY: list[float] = []  # seconds from the call to the first body byte, per request (`--ttfe`)


async def one(app: App, request: Request) -> int:
    status = 0
    sent = False
    done = asyncio.Event()
    called = time.perf_counter()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await done.wait()  # the client stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, called
        if message["type"] == "http.response.start":
            status = message["status"]
            return
        if message.get("body") and called:
            FIRST_BODY.append(time.perf_counter() - called)
            called = 0.0
        if not message.get("more_body"):
            done.set()

    await app(scope_of(request), receive, send)
    done.set()
    return status


async def drive(app: App, request: Request, count: int, concurrency: int) -> float:
    """CPU seconds per request over `count` requests, `concurrency` at a time."""
    queue = iter(range(count))
    statuses: list[int] = []

    async def worker() -> None:
        for _ in queue:
            statuses.append(await one(app, request))

    before = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.process_time() - before
    if set(statuses) != {200}:
        raise RuntimeError(f"answers other than 200: {sorted(set(statuses))}")
    return spent / count


async def lifespan(app: App) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan; return what ends it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


def gateway_app(workdir: Path, up: int, extra: dict[str, str]) -> App:
    os.environ.update(
        {
            "API_KEYS": GATEWAY_KEY,
            "MODELS_FILE": str(_gateway_models(workdir, up)),
            "LOG_LEVEL": "info",
            "DATA_DIR": str(workdir),
            **extra,
        }
    )
    from worker.app import create_app  # after the environment is set: settings are read at import
    from worker.config.settings import load_settings

    return create_app(load_settings())  # type: ignore[return-value]


def thin_app(up: int) -> App:
    os.environ.update({"REF_UPSTREAM": f"http://127.0.0.1:{up}", "REF_KEY": GATEWAY_KEY})
    module = importlib.import_module("thin_reference")
    return module.app  # type: ignore[no-any-return]


async def measure(name: str, app: App, request: Request, args: argparse.Namespace) -> None:
    stop = await lifespan(app)
    try:
        await drive(app, request, 500, args.concurrency)  # warm-up
        rounds = [await drive(app, request, args.requests, args.concurrency) for _ in range(args.rounds)]
        print(
            f"{name}: {statistics.median(rounds) * 1e6:.0f} µs CPU per request (rounds: "
            + ", ".join(f"{r * 1e6:.0f}" for r in rounds)
            + ")"
        )
        FIRST_BODY.clear()
        await drive(app, request, 100, 1)  # one at a time: the time to the first body byte alone
        print(f"{name}: {statistics.median(FIRST_BODY) * 1e3:.3f} ms to the first body byte (median, c=1)")
        events = EVENTS.get(args.kind)
        if events:
            per_event = statistics.median(rounds) * 1e6 / events
            print(f"{name}: {per_event:.2f} µs CPU per event ({events} events)")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await drive(app, request, args.requests, args.concurrency)
            profiler.disable()
            print_groups(pstats.Stats(profiler), args.requests)
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(args.sort).print_stats(*args.filter, args.profile)
            print(out.getvalue())
    finally:
        await stop()


def group_of(filename: str) -> str:
    """Where a function lives: `worker/<subpackage>`, the benchmark's own code, or a library."""
    if "/worker/" in filename:
        parts = filename.rsplit("/worker/", 1)[1].split("/")
        return "worker/" + (parts[0] if len(parts) > 1 else parts[0].removesuffix(".py"))
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "scripts/bench/" in filename:
        return "bench: " + filename.rsplit("/", 1)[1]
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    return "stdlib: " + filename.rsplit("/", 2)[-2 if filename.endswith("__init__.py") else -1]


def print_groups(stats: pstats.Stats, requests: int) -> None:
    """Own time per group of modules, as a share of the run and in calls per request."""
    own: dict[str, float] = {}
    calls: dict[str, int] = {}
    for (filename, _, _), (_, ncalls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        group = group_of(filename)
        own[group] = own.get(group, 0.0) + tottime
        calls[group] = calls.get(group, 0) + ncalls
    total = sum(own.values())
    print(f"{'group':<28} {'share':>6} {'calls/request':>14}")
    for group, spent in sorted(own.items(), key=lambda item: -item[1])[:20]:
        print(f"{group:<28} {spent / total:6.1%} {calls[group] / requests:14.1f}")
    print(f"{'all':<28} {1:6.1%} {sum(calls.values()) / requests:14.1f}\n")


async def stage_cost(stages: int, events: int = 4, answers: int = 20000) -> float:
    """CPU seconds to pass one answer of `events` events through `stages` async generator stages:
    what a non-streamed answer pays for travelling as a stream of events between the upstream's body
    and the aggregated completion (four stages on `/qwq-32b`'s path)."""

    async def source() -> AsyncIterator[int]:
        for i in range(events):
            yield i

    async def stage(inner: AsyncIterator[int]) -> AsyncIterator[int]:
        async for item in inner:
            yield item

    before = time.process_time()
    for _ in range(answers):
        chain = source()
        for _ in range(stages):
            chain = stage(chain)
        async for _ in chain:
            pass
    return (time.process_time() - before) / answers


async def print_stage_cost() -> None:
    bare, four = await stage_cost(0), await stage_cost(4)
    print(f"an answer of 4 events: {bare * 1e6:.1f} µs read directly, {four * 1e6:.1f} µs through 4 stages")


def run(work: Awaitable[None]) -> None:
    """On uvloop, as both servers run."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(work)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print the N functions with the most own time")
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumulative, ncalls")
    parser.add_argument("--filter", action="append", default=[], help="only functions whose file matches")
    parser.add_argument("--env", action="append", default=[], help="a gateway setting, NAME=VALUE")
    parser.add_argument("--only", choices=("thin", "gateway"), default=None)
    parser.add_argument("--kind", choices=("json", "sse64", "sse512"), default="json", help="answer kind")
    parser.add_argument("--stages", action="store_true", help="only the cost of async generator stages")
    args = parser.parse_args()
    if args.stages:
        run(print_stage_cost())
        return 0
    extra = dict(item.split("=", 1) for item in args.env)
    workdir = Path(tempfile.mkdtemp(prefix="qwq-profile-"))
    workdir.chmod(0o755)
    (workdir / "body").mkdir()
    up, hold = free_port(), free_port()
    (workdir / "nginx.conf").write_text(upstream.nginx_conf(str(workdir), up, hold))
    nginx: Server = start(
        "nginx",
        ["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
        1,
        up,
        workdir / "nginx.log",
        {},
    )
    try:
        if args.only != "gateway":
            run(measure("thin reference", thin_app(up), thin_request(args.kind, up), args))
        if args.only != "thin":
            gateway = gateway_app(workdir, up, extra)
            run(measure("qwq-gateway /qwq-32b", gateway, gateway_slug_request(args.kind, up), args))
    finally:
        nginx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
