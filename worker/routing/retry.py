"""Retry policy: which upstream failures are worth another try, and how long to wait before it.

    failure                                      verdict     breaker  key
    connection refused/reset, 5xx, error event   retry       counts   -
    timeout (ours, or the upstream's 408/504)    retry       counts   -
    429 / Workers 3040 (Retry-After honoured)    retry       -        rests
    Workers 3036 (daily allocation used up)      failover    -        rests
    401, 403 / Workers 10000                     next key    counts   rests
    stream cut short (no finish, no [DONE])      retry       counts   -
    200 of the wrong shape                       failover    counts   -
    other 4xx the gateway caused (404 URL, 5007) failover    counts   -
    (Workers 3042 unknown model id, 3023 blocked)
    400 / 413 / 422: the request itself          fatal       -        -

"retry" tries the same target again after a backoff, "next key" at once with another key, "failover"
moves to the next target; "fatal" answers the client: another upstream would refuse the same request.
Nothing is retried once an event has reached the client (see `worker.routing.router`).
"""

from __future__ import annotations

import email.utils
import enum
import random
import time

from worker.core.errors import (
    BadRequest,
    GatewayError,
    RateLimited,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
)


class Verdict(enum.Enum):
    RETRY = "retry"
    NEXT_KEY = "next_key"
    FAILOVER = "failover"
    FATAL = "fatal"


def upstream_status(error: GatewayError) -> int | None:
    detail = error.detail
    status = detail.get("upstream_status") if isinstance(detail, dict) else None
    return status if isinstance(status, int) else None


def classify(error: GatewayError) -> Verdict:
    if isinstance(error, RateLimited):
        exhausted = isinstance(error.detail, dict) and error.detail.get("exhausted") is True
        return Verdict.FAILOVER if exhausted else Verdict.RETRY
    if isinstance(error, UpstreamTimeout):
        return Verdict.RETRY
    if isinstance(error, UpstreamBadResponse):
        truncated = isinstance(error.detail, dict) and error.detail.get("truncated") is True
        return Verdict.RETRY if truncated else Verdict.FAILOVER
    if isinstance(error, UpstreamError):
        status = upstream_status(error)
        if status in (401, 403):
            return Verdict.NEXT_KEY
        if status is not None and status < 500:
            return Verdict.FAILOVER
        return Verdict.RETRY
    if isinstance(error, BadRequest):
        return Verdict.FATAL
    return Verdict.FATAL


def counts_against_target(error: GatewayError) -> bool:
    """Does this failure say the target is unhealthy (for its circuit breaker)?"""
    return isinstance(error, UpstreamError)


def rests_key(error: GatewayError) -> bool:
    return isinstance(error, RateLimited) or classify(error) is Verdict.NEXT_KEY


def backoff(retry: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
    [0, min(cap, base * 2**retry)], so that many clients retrying at once spread out."""
    ceiling = min(cap, base * (2**retry))
    return (rng or random).uniform(0.0, ceiling) if ceiling > 0 else 0.0


def retry_after(error: GatewayError, now: float | None = None) -> float | None:
    """Seconds asked for by the upstream's `Retry-After` (delta-seconds or an HTTP date), if any."""
    raw = next((v for k, v in error.headers.items() if k.lower() == "retry-after"), None)
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
