"""The image as a user builds and runs it: `podman build` of the Dockerfile, then the container serving.

The image is built once per run (its layers are cached by podman, so an unchanged pyproject.toml does
not download the dependencies again); the base image is built from Debian's packages the first time on
a machine and kept (tests/containers.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.containers import ROOT, build_image, podman
from tests.servers import free_port

KEY = "container-test-key"
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
IMAGE = "localhost/qwq-gateway:test"


@dataclass(frozen=True, slots=True)
class Running:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self, field: str) -> str:
        return podman("inspect", "--format", "{{.State." + field + "}}", self.name).stdout.strip()

    def logs(self) -> str:
        done = podman("logs", self.name)
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def image() -> str:
    build_image(IMAGE)
    return IMAGE


def wait_serving(container: Running, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"{container.url}/healthz", timeout=5)
        except httpx.TransportError:
            if container.state("Status") != "running":
                raise AssertionError(f"the container stopped:\n{container.logs()}") from None
            assert time.monotonic() < deadline, f"the container did not serve:\n{container.logs()}"
            time.sleep(0.2)


@contextmanager
def run_container(image: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    running = Running(f"qwq-test-{uuid.uuid4().hex[:8]}", free_port())
    settings = {"PORT": str(running.port), "API_KEYS": KEY, **(env or {})}
    podman(
        "run",
        "--detach",
        f"--name={running.name}",
        "--network=host",  # the container's own network namespace needs what this kernel lacks
        *(f"--env={name}={value}" for name, value in settings.items()),
        image,
        *args,
    )
    try:
        yield running
    finally:
        podman("rm", "--force", "--time=0", running.name, check=False)


@pytest.fixture
def container(image: str) -> Iterator[Running]:
    with run_container(image) as running:
        yield running


def test_the_container_serves_as_an_unprivileged_user(container: Running) -> None:
    assert wait_serving(container).status_code == 200
    answer = httpx.post(
        f"{container.url}/qwq-32b",
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]
    # The server process itself, seen from the host (rootful podman maps no user ids): not root.
    pid = container.state("Pid")
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    (uids,) = [line for line in status if line.startswith("Uid:")]
    assert uids.split()[1:] == ["10001"] * 4
    assert "Traceback" not in container.logs()


def test_the_health_check_passes(container: Running) -> None:
    wait_serving(container)
    done = podman("healthcheck", "run", container.name, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sigterm_stops_it_cleanly(container: Running) -> None:
    wait_serving(container)
    started = time.monotonic()
    podman("stop", "--time=30", container.name)  # SIGTERM, then SIGKILL only after 30 s
    assert time.monotonic() - started < 25, "SIGTERM did not stop the gateway: it was killed"
    assert container.state("ExitCode") == "0"
    logs = container.logs()
    assert "Finished server process" in logs and "Traceback" not in logs, logs


def test_the_image_holds_the_installed_wheel_alone(image: str) -> None:
    """No source tree, wheel or build venv is left in the image: the package runs from site-packages."""
    probe = (
        "import os, worker, worker.schemas; "
        "print(worker.__file__); "
        "print([p for p in ('/src', '/wheels', '/opt/build') if os.path.exists(p)])"
    )
    done = podman("run", "--rm", "--network=host", image, "python", "-c", probe)
    where, leftovers = done.stdout.strip().splitlines()
    assert where.startswith("/opt/qwq-gateway/lib/") and "/site-packages/worker/" in where
    assert leftovers == "[]"


def test_the_compose_files_simulator_serves_a_gateway(image: str) -> None:
    """compose.yaml's pairing, run from the same image: the simulator service with its own command (on
    a free port here), and a gateway whose UPSTREAM_URL points at it."""
    command = COMPOSE["services"]["simulator"]["command"]
    sim_port = free_port()
    command = [str(sim_port) if word == "9100" else word for word in command]
    upstream = COMPOSE["x-gateway"]["environment"]["UPSTREAM_URL"].replace(
        "simulator:9100", f"127.0.0.1:{sim_port}"
    )
    with run_container(image, *command), run_container(image, env={"UPSTREAM_URL": upstream}) as gateway:
        wait_serving(gateway)
        answer = httpx.post(
            f"{gateway.url}/qwq-32b",
            json={"prompt": "hi", "max_tokens": 20},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        stats = httpx.get(f"http://127.0.0.1:{sim_port}/_sim/stats", timeout=10).json()
        assert stats["received"] == 1, stats
        assert "SIMULATOR" not in gateway.logs(), "the gateway used its own simulator, not the service"
