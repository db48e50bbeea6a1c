"""`qwq-gateway --workers N`: N server processes under one supervisor, each building its own state, all
answering on the one port, and all stopped by one SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import NO_WRANGLER
from tests.observe.scrape import total
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


def manage(env: dict[str, str], *args: str) -> Any:
    """`qwq-gateway keys ...` / `usage` on the state store `env` names; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "worker", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


def metric_dirs(parent: Path) -> set[Path]:
    return set(parent.glob("qwq-gateway-metrics-*"))


def test_two_workers_count_every_request_in_usage_and_metrics(tmp_path: Path) -> None:
    """Both workers write usage to the one SQLite file and count into the one /metrics: every request
    is in each, whichever worker answered it."""
    state = tmp_path / "state.db"
    store_env = clean_env(WRANGLER_TOML=str(NO_WRANGLER), STATE_URL=f"sqlite:///{state}")
    key = manage(store_env, "keys", "create", "--name", "both", "--role", "user")["key"]
    # The supervisor makes its metrics directory under TMPDIR: this test's own, not the machine's /tmp,
    # where other gateways (other test runs) make theirs.
    temp = tmp_path / "tmp"
    temp.mkdir()
    port, before = free_port(), metric_dirs(temp)
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--port", str(port), "--workers", "2"],
        # Slow answers, sent 8 at a time: both workers take some.
        env={
            **store_env,
            "API_KEYS": KEY,
            "SIMULATOR_TOKEN_DELAY": "0.002",
            "USAGE_FLUSH_INTERVAL": "0.2",
            "TMPDIR": str(temp),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert first_answer(process, port, key, timeout=60).status_code == 200

        def ask(i: int) -> int:
            url, auth = f"http://127.0.0.1:{port}/qwq-32b", {"Authorization": f"Bearer {key}"}
            return httpx.post(url, json={"prompt": f"hi {i}"}, headers=auth, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(39))) == {200}
        (directory,) = metric_dirs(temp) - before
        writers = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
        assert len(writers) == 2, writers  # each worker answered some of the requests
        for _ in range(6):  # whichever worker answers the scrape, it reports both
            page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert total(page, "qwq_gateway_requests_total", surface="workers") == 40
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert len(set(re.findall(r"Started server process \[(\d+)\]", out))) == 2, out
    rows = manage(store_env, "usage", "--group-by", "key")["data"]
    assert sum(row["requests"] for row in rows) == 40, rows
