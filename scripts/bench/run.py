"""The benchmark runner: every contender against one fake upstream, in one run (docs/performance.md).

Run it through `bash scripts/bench.sh`, which installs what it needs and pins this runner, wrk and the
fake upstream to core 1; each contender is pinned to core 0 (one with two worker processes gets cores 0
and 1, sharing core 1 with them). One contender at a time is running.
Results: two tables on the terminal and `bench-results/bench-<time>.json` (+ `latest.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upstream
from load import Request, hold_streams, time_to_first_event, wrk, wrk_cpu
from procs import Server, free_port, start
from report import print_tables
from targets import BENCH, ROOT, Contender, contenders, direct_request
from verdicts import PAIRED

EVENTS = {"sse64": 64, "sse512": 512}
PAIRED_SAMPLES = 3
"""More c=32 cells of each of two paired rows, taken turn about (`run_pair`)."""


def probe(port: int, request: Request) -> tuple[int, bytes]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{request.path}", data=request.body, headers=request.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages: how busy it was while a row was measured."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def measure(
    name: str, port: int, make: Any, up: int, server: Server | None, scale: float, light: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    status, body = probe(port, make("json", up))
    if status == 404:
        return {**out, "skipped": f"the route answered 404 ({body[:120].decode(errors='replace')})"}
    if status != 200:
        return {**out, "error": f"probe answered {status}: {body[:200].decode(errors='replace')}"}
    json_request = make("json", up)
    wrk(port, json_request, 8, 1.5 * scale)  # warm-up
    if server:
        out["rss_idle_kb"] = server.rss()
    one = wrk(port, json_request, 1, 3 * scale)
    out["c1"] = {"p50_ms": one.p50_ms, "p99_ms": one.p99_ms, "rate": one.rate, "errors": one.errors}
    for connections in (32, 128):
        result, spent = wrk_cpu(server, port, json_request, connections, 4 * scale)
        cell = {
            "rate": result.rate,
            "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms,
            "errors": result.errors,
        }
        if server and result.requests:
            cell["cpu_ms_per_request"] = spent * 1000 / result.requests
        out[f"c{connections}"] = cell
    for kind, events in EVENTS.items():
        stream_request = make(kind, up)
        median, p99, failed = time_to_first_event(port, stream_request, int(60 * scale) or 10)
        cell = {"ttfe_ms": median, "ttfe_p99_ms": p99, "failed": failed}
        if failed and not median:
            out[kind] = {**cell, "error": "no stream completed"}
            continue
        result, spent = wrk_cpu(server, port, stream_request, 8, 3 * scale)
        cell["rate"] = result.rate
        cell["errors"] = result.errors
        if server and result.requests:
            cell["cpu_us_per_event"] = spent * 1e6 / (result.requests * events)
            cell["cpu_ms_per_stream"] = spent * 1e3 / result.requests
        out[kind] = cell
    out["load"] = load_average()
    if server and not light:
        rate = out["c32"]["rate"] or 1
        seconds = min(50_000 / rate * 1.05, 45 * scale)
        before = server.rss()
        result = wrk(port, json_request, 32, max(seconds, 1))
        out["soak"] = {"requests": result.requests, "rss_before_kb": before, "rss_after_kb": server.rss()}
        out["soak"]["errors"] = result.errors
        base = server.rss()
        opened, rss_open = hold_streams(port, make("hold", up), int(1000 * scale) or 50, server.rss)
        out["hold"] = {"opened": opened, "rss_before_kb": base, "rss_open_kb": rss_open}
        if opened:
            out["hold"]["kb_per_stream"] = (rss_open - base) / opened  # type: ignore[operator]
    return out


def validation_cost() -> dict[str, Any]:
    python = ROOT / ".venv" / "bin" / "python"
    argv = ["taskset", "-c", "0", str(python), str(BENCH / "validation_cost.py")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode:
        return {"error": done.stderr[-400:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def machine() -> dict[str, Any]:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def start_contender(contender: Contender, up: int, workdir: Path) -> Server | dict[str, Any]:
    """The contender's server, started; or its row, saying why it could not start."""
    port = free_port()
    log = workdir / f"{contender.name.split()[0].lower()}-{port}.log"
    try:
        return start(
            contender.name,
            contender.argv(port, up, workdir),
            contender.cores,
            port,
            log,
            contender.env(port, up, workdir),
            contender.startup_timeout,
        )
    except (RuntimeError, OSError) as exc:
        return {"name": contender.name, "error": f"could not start: {str(exc)[:300]}"}


def measure_started(contender: Contender, server: Server, up: int, scale: float) -> dict[str, Any]:
    try:
        return measure(contender.name, server.port, contender.request, up, server, scale, contender.light)
    except Exception as exc:  # one contender failing must not stop the run
        return {"name": contender.name, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def run_contender(contender: Contender, up: int, workdir: Path, scale: float) -> dict[str, Any]:
    server = start_contender(contender, up, workdir)
    if isinstance(server, dict):
        return server
    try:
        return measure_started(contender, server, up, scale)
    finally:
        server.stop()


def c32_sample(server: Server, request: Request, scale: float) -> tuple[float, float]:
    """One more c=32 cell: (req/s, CPU ms per request)."""
    result, spent = wrk_cpu(server, server.port, request, 32, 4 * scale)
    return result.rate, spent * 1000 / max(result.requests, 1)


def run_pair(pair: tuple[Contender, Contender], up: int, workdir: Path, scale: float) -> list[dict[str, Any]]:
    """Two rows a target compares (on against off), both started for the whole of their measuring: each
    is measured in full, then `PAIRED_SAMPLES` more c=32 cells are taken of each turn about, and their
    c=32 figures are the medians of all their cells. A drift of the machine over the minute this takes
    then moves both rows alike instead of landing on one of them."""
    servers: list[Server] = []
    try:
        for contender in pair:
            server = start_contender(contender, up, workdir)
            if isinstance(server, dict):  # measured apart, as an unpaired row would be
                for started in servers:
                    started.stop()
                servers = []
                return [run_contender(c, up, workdir, scale) for c in pair]
            servers.append(server)
        rows = [measure_started(c, s, up, scale) for c, s in zip(pair, servers, strict=True)]
        if any("error" in row or "skipped" in row for row in rows):
            return rows
        requests = [c.request("json", up) for c in pair]
        samples: list[list[tuple[float, float]]] = [[] for _ in pair]
        for _ in range(PAIRED_SAMPLES):
            for index, server in enumerate(servers):
                samples[index].append(c32_sample(server, requests[index], scale))
        for row, taken in zip(rows, samples, strict=True):
            cell = row["c32"]
            taken.insert(0, (cell["rate"], cell.get("cpu_ms_per_request", 0.0)))
            cell["rate_samples"] = [round(rate, 1) for rate, _ in taken]
            cell["rate"] = statistics.median(rate for rate, _ in taken)
            cell["cpu_ms_per_request"] = statistics.median(cpu for _, cpu in taken)
        return rows
    finally:
        for server in servers:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short cells (a smoke test, not figures)")
    parser.add_argument(
        "--only", default="", help="run only contenders whose name contains one of these (comma separated)"
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="another checkout of the gateway (set up with its scripts/install.sh), measured in the same run",
    )
    args = parser.parse_args()
    baseline = Path(args.baseline).resolve() if args.baseline else None
    scale = 0.25 if args.quick else 1.0
    workdir = Path(tempfile.mkdtemp(prefix="qwq-bench-"))
    workdir.chmod(0o755)  # nginx's workers (www-data) read the stream bodies from here
    up, hold = free_port(), free_port()
    (workdir / "body").mkdir()
    (workdir / "nginx.conf").write_text(upstream.nginx_conf(str(workdir), up, hold))
    servers: list[Server] = []
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_before": load_average(),
    }
    try:
        hold_argv = [sys.executable, str(BENCH / "upstream.py"), "hold", str(hold)]
        servers.append(start("hold", hold_argv, 1, hold, workdir / "hold.log", {}))
        nginx_argv = ["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]
        servers.append(start("nginx", nginx_argv, 1, up, workdir / "nginx.log", {}))
        rows = [measure("direct (nginx, the floor)", up, direct_request, up, None, scale)]
        print(f"measured {rows[-1]['name']}", file=sys.stderr)
        chosen = [
            contender
            for contender in contenders(baseline)
            if not args.only or any(part in contender.name for part in args.only.split(","))
        ]
        by_name = {contender.name: contender for contender in chosen}
        partners = {first: second for first, second in PAIRED} | {second: first for first, second in PAIRED}
        measured: set[str] = set()
        for contender in chosen:
            if contender.name in measured:
                continue
            partner = by_name.get(partners.get(contender.name, ""))
            if partner is None:
                pair, new = [contender], [run_contender(contender, up, workdir, scale)]
            else:
                pair, new = [contender, partner], run_pair((contender, partner), up, workdir, scale)
            rows += new
            for done, row in zip(pair, new, strict=True):
                measured.add(done.name)
                print(f"measured {done.name}: {row.get('error') or 'ok'}", file=sys.stderr)
        results["rows"] = rows
        results["validation"] = validation_cost()
    finally:
        for server in reversed(servers):
            server.stop()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["load_after"] = load_average()
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (out_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(text)
    (out_dir / "latest.json").write_text(text)
    print_tables(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
