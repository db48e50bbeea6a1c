"""`qwq-gateway --workers N`: N server processes under one supervisor, each building its own state, all
answering on the one port, and all stopped by one SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx

from tests.conftest import NO_WRANGLER
from tests.processes import clean_env, first_answer
from tests.servers import free_port

KEY = "workers-test-key"


def test_two_workers_serve_one_port_and_stop_together() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--port", str(port), "--workers", "2"],
        env=clean_env(API_KEYS=KEY, WRANGLER_TOML=str(NO_WRANGLER)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert first_answer(process, port, KEY, timeout=60).status_code == 200
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answers = [
                client.post(
                    "/qwq-32b", json={"prompt": f"hi {i}"}, headers={"Authorization": f"Bearer {KEY}"}
                )
                for i in range(20)
            ]
        assert [a.status_code for a in answers] == [200] * 20
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    workers = set(re.findall(r"Started server process \[(\d+)\]", out))
    assert len(workers) == 2 and str(process.pid) not in workers, out
    assert len(re.findall(r"Finished server process \[(\d+)\]", out)) == 2, out
    # Each worker built its own state (and said so): the model table's line, once per process.
    assert out.count("is served by the built-in QwQ-32B SIMULATOR") >= 2, out
    assert "Traceback" not in out
