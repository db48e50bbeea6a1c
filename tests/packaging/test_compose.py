"""compose.yaml, checked by the same engine that builds the image: podman-compose reads it and prints the
containers it would create (`--dry-run`), and the files it mounts agree with its services.

Running it needs the nginx, Redis and Prometheus images from a registry, which these machines cannot
reach; the gateway image it builds is the one tests/packaging/test_container.py builds and runs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.containers import podman, podman_env

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
GATEWAYS = ("gateway-1", "gateway-2")


def dry_run(**env: str) -> subprocess.CompletedProcess[str]:
    """`podman-compose --dry-run up`; it still creates the project's network and volume: removed after."""
    project = f"qwqcheck{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run(
            [
                "podman-compose",
                "--dry-run",
                "-p",
                project,
                "-f",
                str(ROOT / "compose.yaml"),
                "up",
                "--no-build",
            ],
            cwd=ROOT,
            env={k: v for k, v in {**podman_env(), **env}.items() if k != "API_KEYS" or "API_KEYS" in env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        podman("network", "rm", "--force", f"{project}_default", check=False)
        podman("volume", "rm", "--force", f"{project}_redis-data", check=False)


def created() -> dict[str, list[str]]:
    """service -> the arguments of the `podman create` podman-compose would run for it."""
    done = dry_run(API_KEYS="compose-key")
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("podman create "):
            args = shlex.split(line)
            service = next(a.split("=", 1)[1] for a in args if a.startswith("com.docker.compose.service="))
            out[service] = args
    return out


def test_two_gateway_replicas_share_redis_behind_one_port() -> None:
    containers = created()
    assert set(containers) == {*GATEWAYS, "proxy", "simulator", "redis", "prometheus"}
    for name in GATEWAYS:
        args = containers[name]
        assert "localhost/qwq-gateway:latest" in args
        env = {args[i + 1] for i, a in enumerate(args) if a == "-e"}
        assert {"API_KEYS=compose-key", "STATE_URL=redis://redis:6379/0"} <= env
        assert "UPSTREAM_URL=http://simulator:9100/v1" in env
        assert "-p" not in args, "replicas publish no port: the proxy is the one way in"
    proxy = containers["proxy"]
    assert proxy[proxy.index("-p") + 1] == "8787:8080"
    assert f"{ROOT}/deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy
    assert f"{ROOT}/deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in containers["prometheus"]
    command = shlex.split("python -m worker.simulator.server --host 0.0.0.0 --port 9100 --token-delay 0.02")
    assert containers["simulator"][-len(command) :] == command


def test_it_refuses_to_start_without_api_keys() -> None:
    done = dry_run()
    assert done.returncode != 0 and "set API_KEYS" in done.stdout + done.stderr


def test_the_gateways_wait_for_redis_and_stop_gracefully() -> None:
    for name in GATEWAYS:
        service = COMPOSE["services"][name]
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        grace = int(service["environment"]["SHUTDOWN_GRACE"])
        assert grace < int(service["stop_grace_period"].rstrip("s")), "the engine would kill open streams"
    assert COMPOSE["services"]["proxy"]["depends_on"] == {
        n: {"condition": "service_healthy"} for n in GATEWAYS
    }


def test_nginx_and_prometheus_name_every_replica() -> None:
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.findall(r"^\s*server (\S+):8787;", nginx, re.M) == list(GATEWAYS)
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"{name}:8787" for name in GATEWAYS]
