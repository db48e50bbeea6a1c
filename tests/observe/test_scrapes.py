"""`/metrics` as operators use it: scraped by a real Prometheus, and summed over `--workers N` processes."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import API_KEY, AUTH
from tests.observe.queries import dashboard_queries, documented_queries
from tests.observe.scrape import total
from tests.processes import clean_env, first_answer, stop
from tests.servers import LiveServer, free_port

ASK = {"prompt": "hi"}


def test_a_real_prometheus_scrapes_the_request_count(
    tmp_path: Path, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    gateway = live_gateway_factory(metrics_key="scrape-secret")
    for _ in range(7):
        assert httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=AUTH, timeout=10).status_code == 200
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: qwq-gateway\n"
        "    authorization:\n      credentials: scrape-secret\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{gateway.port}']\n"
    )
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    query = 'sum(qwq_gateway_requests_total{surface="workers",model="qwq-32b",status="200"})'
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and seen[-1:] != ["7"]:
            time.sleep(0.5)
            assert server.poll() is None, server.stderr.read() if server.stderr else "prometheus exited"
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5)
            except httpx.TransportError:
                continue
            if r.status_code != 200:  # 503 "Service Unavailable" while its storage starts
                continue
            result = r.json()["data"]["result"]
            if result:
                seen.append(result[0]["value"][1])
        targets = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).json()
        # Every query the docs and the dashboard show is valid PromQL to this server.
        for promql in documented_queries() + dashboard_queries():
            answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": promql}, timeout=5)
            assert answer.json()["status"] == "success", (promql, answer.text)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert seen[-1:] == ["7"], seen
    (target,) = targets["data"]["activeTargets"]
    assert target["health"] == "up", target  # scraped with the metrics key, and the page parsed


def metric_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("qwq-gateway-metrics-*"))


def test_workers_sum_their_figures_into_every_scrape() -> None:
    port = free_port()
    before = metric_dirs()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "--workers", "2", "--port", str(port)],
        # Slow answers, sent 8 at a time: both workers must take some.
        env=clean_env(API_KEYS=API_KEY, LOG_LEVEL="warning", SIMULATOR_TOKEN_DELAY="0.002"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert first_answer(process, port, API_KEY).status_code == 200
        (directory,) = metric_dirs() - before  # set up by qwq-gateway, for this server

        def ask(_: int) -> int:
            url = f"http://127.0.0.1:{port}/qwq-32b"
            return httpx.post(url, json=ASK, headers=AUTH, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(39))) == {200}
        writers = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
        assert len(writers) == 2, writers  # each worker counted some of the requests
        for _ in range(6):  # whichever worker answers the scrape, it reports both
            page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert total(page, "qwq_gateway_requests_total", surface="workers") == 40
    finally:
        out = stop(process)
    assert metric_dirs() - before == set(), "the metrics directory outlived the server"
    assert "Traceback" not in out, out
