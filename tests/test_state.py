"""The shared upstream client: the outbound proxy setting, proved with real local proxies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from tests.proxies import Proxy
from tests.servers import LiveServer


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_upstream_traffic_goes_through_the_proxy(
    kind: str, fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    proxy = Proxy(kind)
    proxy.start()
    try:
        gateway = live_gateway_factory(upstream_url=f"{fake_upstream.url}/v1", upstream_proxy=proxy.url)
        body = {"messages": [{"role": "user", "content": "through a proxy"}]}
        r = httpx.post(f"{gateway.url}/qwq-32b", json=body, headers=AUTH, timeout=10)
        assert r.status_code == 200 and r.json()["response"]
        port = fake_upstream.port
        expected = (
            f"POST {fake_upstream.url}/v1/chat/completions" if kind == "http" else f"CONNECT 127.0.0.1:{port}"
        )
        assert proxy.seen == [expected]
        assert fake_upstream.app.stats.received == 1
    finally:
        proxy.stop()


async def test_a_dead_proxy_is_an_upstream_error_not_a_crash(
    fake_upstream: LiveServer, live_gateway_factory: Callable[..., LiveServer]
) -> None:
    proxy = Proxy("http")  # never started: nothing listens on its port
    gateway = live_gateway_factory(
        upstream_url=f"{fake_upstream.url}/v1", upstream_proxy=proxy.url, retry_attempts=0
    )
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{gateway.url}/qwq-32b", json={"prompt": "hi"}, headers=AUTH, timeout=10)
    assert r.status_code == 500 and "connect" in r.json()["error"].lower()
    assert fake_upstream.app.stats.received == 0


def test_the_proxy_setting_is_a_secret() -> None:
    settings = make_settings(upstream_proxy="http://user:hunter2@proxy.example:3128")
    assert settings.public_dict()["upstream_proxy"] == "***"
