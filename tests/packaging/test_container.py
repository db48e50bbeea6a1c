"""The image as a user builds and runs it: `podman build` of the Dockerfile, then the container serving.

The image is built once per run (its layers are cached by podman, so an unchanged pyproject.toml does
not download the dependencies again); the base image is built from Debian's packages the first time on
a machine and kept (tests/containers.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.containers import build_image, podman
from tests.servers import free_port

KEY = "container-test-key"
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


@pytest.fixture
def container(image: str) -> Iterator[Running]:
    running = Running(f"qwq-test-{uuid.uuid4().hex[:8]}", free_port())
    podman(
        "run",
        "--detach",
        f"--name={running.name}",
        "--network=host",  # the container's own network namespace needs what this kernel lacks
        f"--env=PORT={running.port}",
        f"--env=API_KEYS={KEY}",
        image,
    )
    try:
        yield running
    finally:
        podman("rm", "--force", "--time=0", running.name, check=False)


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
