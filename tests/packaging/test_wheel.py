"""The package as a user installs it: a wheel built from a clean copy of the repository, installed into a
fresh venv (its own site-packages, dependencies from the package index), serving from a directory that
holds no source tree. Once the schemas were read from the source tree, and a wheel could not start."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import clean_env, first_answer, stop
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = sorted(p.name for p in (ROOT / "schemas").glob("*.json"))
KEY = "wheel-test-key"


@dataclass(frozen=True, slots=True)
class Installed:
    wheel: Path
    build_output: str
    venv: Path
    elsewhere: Path  # an empty working directory, away from any checkout

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def site_packages(self) -> Path:
        out = self.run(str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        return Path(out.strip())

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, cwd=self.elsewhere, env=clean_env(), capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def clean_copy(dest: Path) -> None:
    """The files git knows of (tracked, or new and not ignored): no .venv, no build leftovers."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the copy
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def pip(python: Path | str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    source, dist, venv, elsewhere = (base / name for name in ("source", "dist", "venv", "elsewhere"))
    for folder in (source, dist, elsewhere):
        folder.mkdir()
    clean_copy(source)
    # The same pip configuration (index, cache) as the project's own install; the build backend is
    # fetched into pip's isolated build environment, as on any machine.
    build_output = pip(sys.executable, "wheel", "--no-deps", "-w", str(dist), str(source), cwd=base)
    shutil.rmtree(source)  # from here on, no source tree exists anywhere the gateway could find it
    (wheel,) = dist.glob("*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip(venv / "bin" / "python", "install", "--quiet", str(wheel), cwd=base)
    yield Installed(wheel, build_output, venv, elsewhere)


def test_the_wheel_carries_the_schemas_types_and_license_and_nothing_else(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        top_level = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/top_level.txt"))
    assert {f"worker/schemas/{name}" for name in SCHEMAS} <= names
    assert len(SCHEMAS) == 4 and "worker/py.typed" in names and "worker/dialects/validation.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    assert top_level.split() == ["worker"]
    # Only the package: no top-level `schemas` (or tests, scripts) of its own beside it.
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"worker"}


def test_building_prints_no_license_deprecation(installed: Installed) -> None:
    assert "license" not in installed.build_output.lower(), installed.build_output


def test_the_installed_package_is_the_wheel_alone(installed: Installed) -> None:
    site = installed.site_packages()
    assert not (site / "schemas").exists()
    where = installed.run(str(installed.python), "-c", "import worker; print(worker.__file__)")
    assert Path(where.strip()).is_relative_to(site)


@pytest.mark.parametrize(
    "command", [["qwq-gateway"], ["python", "-m", "worker"]], ids=["console-script", "python-m"]
)
def test_the_installed_gateway_serves_from_anywhere(installed: Installed, command: list[str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(installed.venv / "bin" / command[0]), *command[1:], "--port", str(port)],
        cwd=installed.elsewhere,
        env=clean_env(API_KEYS=KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = first_answer(process, port, KEY)
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"]
    finally:
        out = stop(process)
    assert "Traceback" not in out and "SIMULATOR" in out


def test_python_m_worker_help(installed: Installed) -> None:
    out = installed.run(str(installed.python), "-m", "worker", "--help")
    assert "usage: qwq-gateway" in out
