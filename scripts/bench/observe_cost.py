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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import interleaved

SETUPS = {"off": {"METRICS": "0", "LOG_FORMAT": "text"}, "on": {"METRICS": "1", "LOG_FORMAT": "json"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    cells = interleaved(SETUPS, args.rounds, args.seconds, args.connections)
    rate = {name: cells.median_rate(name) for name in SETUPS}
    ms = {name: cells.median_cpu(name) for name in SETUPS}
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
            {
                "rates": cells.rates,
                "cpu_ms": cells.cpu_ms,
                "throughput_cost_pct": throughput_cost,
                "cpu_cost_pct": cpu_cost,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
