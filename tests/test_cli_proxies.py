"""`FORWARDED_ALLOW_IPS`: behind a trusted reverse proxy, the client a request is accounted to (the
record every log line and limit reads) is the one the proxy names in `X-Forwarded-For`; from anyone
else that header is ignored. Served by uvicorn on a real socket with the options `qwq-gateway` uses."""

from __future__ import annotations

import httpx
import pytest
import uvicorn

from tests.conftest import AUTH, make_settings
from tests.servers import LiveServer
from worker.app import create_app
from worker.cli import proxy_options
from worker.config.settings import Settings
from worker.core.outcome import RequestRecord

FORWARDED = {"X-Forwarded-For": "203.0.113.7, 198.51.100.20"}


def gateway_server(settings: Settings) -> tuple[LiveServer, list[RequestRecord]]:
    """A started gateway on uvicorn with `qwq-gateway`'s proxy options, and the records of its requests."""
    app = create_app(settings)
    records: list[RequestRecord] = []
    app.app.state.app_state.sinks.append(records.append)
    live = LiveServer(app)
    live.server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=live.port,
            log_level="warning",
            lifespan="on",
            **proxy_options(settings),
        )
    )
    live.start()
    return live, records


def client_seen(trusted: str, headers: dict[str, str]) -> str:
    live, records = gateway_server(make_settings(forwarded_allow_ips=trusted))
    try:
        answer = httpx.post(f"{live.url}/qwq-32b", json={"prompt": "hi"}, headers={**AUTH, **headers})
        assert answer.status_code == 200, answer.text
    finally:
        live.stop()
    (record,) = records
    return record.client


@pytest.mark.parametrize("trusted", ["127.0.0.1", "127.0.0.0/8"])
def test_a_trusted_proxy_names_the_client(trusted: str) -> None:
    # The last address is the one the trusted proxy (127.0.0.1 here) saw; earlier ones are the
    # client's own claims, which nobody vouches for.
    assert client_seen(trusted, FORWARDED) == "198.51.100.20"


def test_trusting_everyone_takes_the_first_address() -> None:
    """`*` trusts every hop, so the first address counts: safe only behind a proxy that replaces the
    header with the address it saw (deploy/nginx.conf does), never one that appends to it."""
    assert client_seen("*", FORWARDED) == "203.0.113.7"


@pytest.mark.parametrize("trusted", ["", "10.0.0.0/8"])
def test_from_an_untrusted_peer_the_header_is_ignored(trusted: str) -> None:
    assert client_seen(trusted, FORWARDED) == "127.0.0.1"


def test_without_a_proxy_the_client_is_the_peer() -> None:
    assert client_seen("127.0.0.1", {}) == "127.0.0.1"
