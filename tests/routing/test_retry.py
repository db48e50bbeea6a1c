from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from worker.core.errors import (
    BadRequest,
    ClientClosed,
    GatewayError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)
from worker.routing.retry import Verdict, backoff, classify, counts_against_target, rests_key, retry_after


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (UpstreamError("refused"), Verdict.RETRY),
        (UpstreamError("503", {"upstream_status": 503}), Verdict.RETRY),
        (UpstreamTimeout(), Verdict.RETRY),
        (RateLimited(), Verdict.RETRY),
        (UpstreamError("401", {"upstream_status": 401}), Verdict.NEXT_KEY),
        (UpstreamError("403", {"upstream_status": 403}), Verdict.NEXT_KEY),
        (UpstreamError("404", {"upstream_status": 404}), Verdict.FAILOVER),
        (UpstreamBadResponse(), Verdict.FAILOVER),
        (UpstreamBadResponse("cut", {"truncated": True}), Verdict.RETRY),
        (BadRequest(), Verdict.FATAL),
        (ClientClosed(), Verdict.FATAL),
    ],
)
def test_classify(error: GatewayError, verdict: Verdict) -> None:
    assert classify(error) is verdict


def test_what_counts_and_what_rests() -> None:
    assert counts_against_target(UpstreamTimeout()) and not counts_against_target(RateLimited())
    assert not counts_against_target(BadRequest())
    assert rests_key(RateLimited()) and rests_key(UpstreamError("x", {"upstream_status": 401}))
    assert not rests_key(UpstreamError("x", {"upstream_status": 500}))


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    rng = random.Random(1)
    for retry in range(8):
        ceiling = min(4.0, 0.25 * 2**retry)
        samples = [backoff(retry, 0.25, 4.0, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a constant
    assert backoff(3, 0.0, 4.0) == 0.0


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after(RateLimited(headers={"Retry-After": "3"})) == 3.0
    assert retry_after(RateLimited(headers={"retry-after": "-2"})) == 0.0
    assert retry_after(RateLimited()) is None
    assert retry_after(RateLimited(headers={"Retry-After": "soon"})) is None
    when = datetime(2030, 1, 1, 0, 0, 10, tzinfo=UTC)
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert retry_after(RateLimited(headers={"Retry-After": format_datetime(when, usegmt=True)}), now) == 10.0
