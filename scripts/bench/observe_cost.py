"""The price of observability: `/qwq-32b` with metrics and JSON logs on, against both off, interleaved.

Two gateways run side by side against one nginx upstream (both pinned to core 0, only one under load at
a time): one with `METRICS=0` and text logs, one with `METRICS=1` and `LOG_FORMAT=json`, both at
`LOG_LEVEL=info` (every request writes its access line). Rounds alternate between them, so that a
change in the machine's load during the run hits both alike; the medians of requests per second and of
the server's CPU per request are compared. CPU per request is the steadier figure on a shared machine.

Usage (needs wrk and nginx, as `scripts/bench.sh`): `.venv/bin/python scripts/bench/observe_cost.py
[--rounds N] [--seconds S]`; prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import upstream
from load import wrk
from procs import Server, free_port, start
from targets import ROOT, _gateway_models, gateway_slug_request

SETUPS = {"off": {"METRICS": "0", "LOG_FORMAT": "text"}, "on": {"METRICS": "1", "LOG_FORMAT": "json"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="qwq-observe-cost-"))
    workdir.chmod(0o755)
    up, hold = free_port(), free_port()
    (workdir / "body").mkdir()
    (workdir / "nginx.conf").write_text(upstream.nginx_conf(str(workdir), up, hold))
    servers: list[Server] = []
    gateways: dict[str, tuple[Server, int]] = {}
    try:
        nginx_argv = ["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]
        servers.append(start("nginx", nginx_argv, 1, up, workdir / "nginx.log", {}))
        binary = str(ROOT / ".venv" / "bin" / "qwq-gateway")
        for name, setup in SETUPS.items():
            port = free_port()
            env = {
                "API_KEYS": "bench-key",
                "MODELS_FILE": str(_gateway_models(workdir, up)),
                "LOG_LEVEL": "info",
                **setup,
            }
            server = start(name, [binary, "--port", str(port)], 0, port, workdir / f"{name}.log", env)
            servers.append(server)
            gateways[name] = (server, port)
        request = gateway_slug_request("json", up)
        for _, port in gateways.values():
            wrk(port, request, 8, 2)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in SETUPS}
        cpu: dict[str, list[float]] = {name: [] for name in SETUPS}
        for round_number in range(args.rounds):
            order = list(SETUPS) if round_number % 2 == 0 else list(reversed(SETUPS))
            for name in order:
                server, port = gateways[name]
                before = server.cpu()
                result = wrk(port, request, args.connections, args.seconds)
                assert result.errors == 0 and result.requests, f"{name}: {result}"
                rates[name].append(result.rate)
                cpu[name].append((server.cpu() - before) * 1000 / result.requests)
    finally:
        for server in reversed(servers):
            server.stop()
    rate = {name: statistics.median(values) for name, values in rates.items()}
    ms = {name: statistics.median(values) for name, values in cpu.items()}
    rounds = f"{args.rounds} alternating rounds of {args.seconds:g} s"
    print(f"\n/qwq-32b, {args.connections} connections, {rounds}\n")
    print("| | req/s (median) | CPU ms/request (median) |\n|---|---|---|")
    for name in SETUPS:
        print(f"| metrics + JSON logs {name} | {rate[name]:,.0f} | {ms[name]:.3f} |")
    throughput_cost = (1 - rate["on"] / rate["off"]) * 100
    cpu_cost = (ms["on"] / ms["off"] - 1) * 100
    print(f"\nthroughput cost {throughput_cost:+.1f}%, CPU per request {cpu_cost:+.1f}%")
    print(
        json.dumps(
            {"rates": rates, "cpu_ms": cpu, "throughput_cost_pct": throughput_cost, "cpu_cost_pct": cpu_cost}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
