"""The reverse-proxy configurations docs/deploying.md gives (deploy/nginx.conf, deploy/Caddyfile), run for
real by Debian's nginx and Caddy in front of two live gateways: requests are shared between the
replicas, a stream arrives event by event, and the client address the gateways record is the one the
proxy saw, never one a client wrote into its own `X-Forwarded-For`."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from tests.servers import LiveServer, free_port
from tests.test_cli_proxies import gateway_server
from worker.config.settings import Settings
from worker.core.outcome import RequestRecord

ROOT = Path(__file__).resolve().parents[2]
KEEPALIVE_DEFAULT = float(Settings.__dataclass_fields__["keepalive_interval"].default)  # type: ignore[arg-type]
SPOOFED = {"X-Forwarded-For": "203.0.113.9"}


def nginx(conf_dir: Path, port: int, replicas: list[int]) -> subprocess.Popen[bytes]:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, replica in zip(("gateway-1", "gateway-2"), replicas, strict=True):
        conf = conf.replace(f"server {name}:8787;", f"server 127.0.0.1:{replica};")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    (conf_dir / "nginx.conf").write_text(conf)
    return subprocess.Popen(
        [
            "nginx",
            "-p",
            str(conf_dir),
            "-c",
            str(conf_dir / "nginx.conf"),
            "-g",
            f"daemon off; pid {conf_dir}/nginx.pid; error_log stderr;",
        ],
        stderr=subprocess.PIPE,
    )


def caddy(conf_dir: Path, port: int, replicas: list[int]) -> subprocess.Popen[bytes]:
    # A site address with http:// and a port: no certificate (automatic HTTPS is for a real domain).
    # `admin off`: no admin endpoint on a port another process may hold.
    (conf_dir / "Caddyfile").write_text("{\n\tadmin off\n}\n" + (ROOT / "deploy" / "Caddyfile").read_text())
    env = {
        **os.environ,
        "SITE_ADDRESS": f"http://127.0.0.1:{port}",
        "GATEWAYS": " ".join(f"127.0.0.1:{r}" for r in replicas),
        "XDG_DATA_HOME": str(conf_dir),
        "XDG_CONFIG_HOME": str(conf_dir),
        "HOME": str(conf_dir),
    }
    return subprocess.Popen(
        ["caddy", "run", "--config", str(conf_dir / "Caddyfile"), "--adapter", "caddyfile"],
        env=env,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(params=["nginx", "caddy"])
def proxied(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, list[list[RequestRecord]]]]:
    servers: list[LiveServer] = []
    records: list[list[RequestRecord]] = []
    for _ in range(2):
        # Tokens come 20 ms apart, so a stream lasts long enough to see whether it arrives in pieces.
        live, seen = gateway_server(
            make_settings(forwarded_allow_ips="127.0.0.1", simulator_token_delay=0.02)
        )
        servers.append(live)
        records.append(seen)
    port = free_port()
    start = nginx if request.param == "nginx" else caddy
    proxy = start(tmp_path, port, [s.port for s in servers])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proxy.poll() is None, proxy.stderr.read().decode() if proxy.stderr else ""
            assert time.monotonic() < deadline, f"{request.param} did not start"
            time.sleep(0.1)
        yield url, records
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
        for live in servers:
            live.stop()


def test_requests_are_shared_and_the_client_is_the_one_the_proxy_saw(
    proxied: tuple[str, list[list[RequestRecord]]],
) -> None:
    url, records = proxied
    # Caddy picks a replica at random (its default policy), so one replica could take every one of a few
    # requests: 24 short ones leave that at 2 in 2**24, where 6 left it at 1 in 32.
    body = {"prompt": "hi", "max_tokens": 4}
    for _ in range(24):
        answer = httpx.post(f"{url}/qwq-32b", json=body, headers={**AUTH, **SPOOFED}, timeout=30)
        assert answer.status_code == 200, answer.text
    served = [[r for r in seen if r.path == "/qwq-32b"] for seen in records]
    assert all(served), "both replicas serve"
    assert {r.client for seen in served for r in seen} == {"127.0.0.1"}, "a client cannot name itself"


def test_a_stream_arrives_event_by_event(proxied: tuple[str, list[list[RequestRecord]]]) -> None:
    url, _ = proxied
    arrivals: list[float] = []
    body = {"messages": [{"role": "user", "content": "Tell me a story."}], "stream": True, "max_tokens": 40}
    with httpx.stream("POST", f"{url}/qwq-32b", json=body, headers=AUTH, timeout=60) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("data: {"):
                arrivals.append(time.monotonic())
    assert len(arrivals) >= 10
    # Buffered, every event would come in one burst at the end; passed on, they are spread over the
    # generation (tokens 20 ms apart), so most of them arrive well after the first.
    late = [t for t in arrivals if t - arrivals[0] > 0.1]
    assert len(late) >= len(arrivals) // 2, [round(t - arrivals[0], 3) for t in arrivals]


def test_the_nginx_configuration_names_what_streams_need() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert re.search(r"proxy_buffering off;", conf) and "proxy_http_version 1.1;" in conf
    found = re.search(r"proxy_read_timeout (\d+)s;", conf)
    assert found and int(found.group(1)) > KEEPALIVE_DEFAULT, "quiet streams cut off"
