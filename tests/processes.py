"""The gateway as a separate process, as a user starts it: its environment, and its first answer."""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time

import httpx

from worker.config.settings import Settings

# Every setting, and the paths that point a gateway at files, so the parent's own configuration never
# leaks into the process under test.
SETTING_NAMES = frozenset(f.name.upper() for f in dataclasses.fields(Settings)) | {"WRANGLER_TOML"}


DATA_DIRS = tempfile.mkdtemp(prefix="qwq-test-data-")
atexit.register(shutil.rmtree, DATA_DIRS, True)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any gateway setting or Python path, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "PYTHONPATH"}
    # The default state store is a file under DATA_DIR: a fresh directory each time, never the checkout's.
    env["DATA_DIR"] = tempfile.mkdtemp(dir=DATA_DIRS)
    env.update(settings)
    return env


def gateway_process(port: int, *options: str, **settings: str) -> subprocess.Popen[str]:
    """`python -m worker --port PORT [options]` with only `settings` for environment (`clean_env`), its
    log lines (stdout and stderr together) kept for `stop` to hand back."""
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--port", str(port), *options],
        env=clean_env(**settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def first_answer(
    process: subprocess.Popen[str], port: int, key: str | None = None, timeout: float = 30
) -> httpx.Response:
    """`POST /qwq-32b` as soon as the process listens on `port`; fails at once if the process ends."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.post(
                f"http://127.0.0.1:{port}/qwq-32b", json={"prompt": "hi"}, headers=headers, timeout=10
            )
        except httpx.TransportError:
            if process.poll() is not None:
                out, _ = process.communicate()
                raise AssertionError(f"the gateway exited with {process.returncode}:\n{out}") from None
            assert time.monotonic() < deadline, "the gateway did not start listening"
            time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, as a service manager would send; the process's whole output."""
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return out
