"""Request ids: a client's sane `X-Request-Id` is kept, anything else replaced; the id goes on the
answer and to the upstream."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import AUTH
from tests.observe.upstream import HeaderCapture
from tests.servers import LiveServer, serving

ASK = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-2026_12_01-abc", True),
        ("a" * 64, True),
        ("a" * 65, False),  # too long
        ("has space", False),
        ('quote"inside', False),
        ("", False),
    ],
)
def test_a_sane_client_id_is_kept_and_sent_upstream(
    live_gateway_factory: Callable[..., LiveServer], sent: str, kept: bool
) -> None:
    capture = HeaderCapture()
    with serving(capture) as upstream:
        gateway = live_gateway_factory(upstream_url=f"{upstream.url}/v1")
        headers = {**AUTH, "X-Request-Id": sent}
        r = httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=headers, timeout=10)
    assert r.status_code == 200
    answered = r.headers["x-request-id"]
    assert (answered == sent) is kept
    assert answered and answered.replace("-", "").replace("_", "").isalnum() and len(answered) <= 64
    (seen,) = capture.headers
    assert seen["x-request-id"] == answered
    assert "traceparent" not in seen  # tracing is off


def test_each_attempt_carries_the_same_id(live_gateway_factory: Callable[..., LiveServer]) -> None:
    capture = HeaderCapture(["500", "ok"])
    with serving(capture) as upstream:
        gateway = live_gateway_factory(upstream_url=f"{upstream.url}/v1", retry_backoff_base=0.01)
        r = httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=AUTH, timeout=10)
    assert r.status_code == 200
    assert [h["x-request-id"] for h in capture.headers] == [r.headers["x-request-id"]] * 2
