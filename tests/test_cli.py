"""The `qwq-gateway` command as a user runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.servers import free_port


def run_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in {"API_KEYS", "ALLOW_NO_AUTH"}}
    full_env.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "worker", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_refuses_to_start_without_keys() -> None:
    process = run_cli({})
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "No API_KEYS configured: refusing to start" in out and "Traceback" not in out


def test_bad_setting_stops_start_up_with_its_name() -> None:
    process = run_cli({"API_KEYS": "k", "PORT": "eighty"})
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2 and "PORT" in out and "Traceback" not in out


def test_dev_flag_serves_openly_and_says_so_loudly() -> None:
    port = free_port()
    process = run_cli({"ALLOW_NO_AUTH": "1"}, "--port", str(port))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/qwq-32b", json={"prompt": "hi"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["response"]
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert "EVERY REQUEST IS ACCEPTED" in out and "SIMULATOR" in out
