"""Gateways that differ in one setting, measured turn about against one nginx upstream.

Each setup is a `qwq-gateway` process with its own environment (both pinned to core 0, only one under
load at a time), serving `/qwq-32b` from the benchmark's fixed ~600-byte answer at `LOG_LEVEL=info`.
Rounds alternate between the setups, and reverse their order every other round, so that a change in
the machine's load during the run hits all of them alike. Each round is one `wrk` cell; the medians of
requests per second and of the server's CPU per request are what to compare, CPU per request being the
steadier figure on a shared machine.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import upstream
from load import wrk, wrk_cpu
from procs import Server, free_port, start
from targets import ROOT, _gateway_models, gateway_slug_request


@dataclass
class Cells:
    rates: dict[str, list[float]]
    """Requests per second of each round, per setup."""
    cpu_ms: dict[str, list[float]]
    """The server's CPU milliseconds per request of each round, per setup."""

    def median_rate(self, name: str) -> float:
        return statistics.median(self.rates[name])

    def median_cpu(self, name: str) -> float:
        return statistics.median(self.cpu_ms[name])


def interleaved(
    setups: Mapping[str, Mapping[str, str]], rounds: int, seconds: float, connections: int
) -> Cells:
    """Start one gateway per setup (its extra environment), then measure them in alternating rounds."""
    workdir = Path(tempfile.mkdtemp(prefix="qwq-interleave-"))
    workdir.chmod(0o755)
    up, hold = free_port(), free_port()
    (workdir / "body").mkdir()
    (workdir / "nginx.conf").write_text(upstream.nginx_conf(str(workdir), up, hold))
    servers: list[Server] = []
    gateways: dict[str, tuple[Server, int]] = {}
    cells = Cells({name: [] for name in setups}, {name: [] for name in setups})
    try:
        nginx_argv = ["nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]
        servers.append(start("nginx", nginx_argv, 1, up, workdir / "nginx.log", {}))
        binary = str(ROOT / ".venv" / "bin" / "qwq-gateway")
        for name, setup in setups.items():
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
        for round_number in range(rounds):
            order = list(setups) if round_number % 2 == 0 else list(setups)[::-1]
            for name in order:
                server, port = gateways[name]
                result, spent = wrk_cpu(server, port, request, connections, seconds)
                assert result.errors == 0 and result.requests, f"{name}: {result}"
                cells.rates[name].append(result.rate)
                cells.cpu_ms[name].append(spent * 1000 / result.requests)
    finally:
        for server in reversed(servers):
            server.stop()
    return cells
