"""A verdict as the client sees it: rate-limit headers in each surface's convention, and the 429s.

OpenAI's clients read `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a duration,
`6m0s`); Anthropic's read `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as an
RFC 3339 time). The Anthropic surface gets the latter, every other surface the former.
"""

from __future__ import annotations

import math
import time

from worker.core.errors import GatewayError, LimitExceeded, QuotaExceeded
from worker.core.identity import Limits
from worker.limits.policy import Verdict

Headers = list[tuple[bytes, bytes]]


def duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `6s`, `1m0s`."""
    if seconds < 1:
        return f"{max(math.ceil(seconds * 1000), 0)}ms"
    whole = math.ceil(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def moment(seconds_from_now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now + 0.999))


def _rows(limits: Limits, verdict: Verdict) -> list[tuple[str, int, int, float]]:
    """(name, limit, remaining, reset seconds) for the per-minute limits the key has."""
    rows = []
    if limits.rpm is not None:
        left = verdict.remaining_requests if verdict.admitted else 0
        reset = verdict.reset_requests if verdict.admitted else verdict.retry_after
        rows.append(("requests", limits.rpm, left or 0, reset))
    if limits.tpm is not None:
        left = verdict.remaining_tokens if verdict.admitted else 0
        reset = verdict.reset_tokens if verdict.admitted else verdict.retry_after
        rows.append(("tokens", limits.tpm, left or 0, reset))
    return rows


def _names(anthropic: bool, name: str) -> tuple[bytes, bytes, bytes]:
    if anthropic:
        base = f"anthropic-ratelimit-{name}-"
        return (base + "limit").encode(), (base + "remaining").encode(), (base + "reset").encode()
    limit, remaining, reset = (
        f"x-ratelimit-{part}-{name}".encode() for part in ("limit", "remaining", "reset")
    )
    return limit, remaining, reset


# The header names of each convention, made once (they are the same on every answer).
NAMES = {
    (anthropic, name): _names(anthropic, name)
    for anthropic in (True, False)
    for name in ("requests", "tokens")
}


def headers(surface: str, limits: Limits, verdict: Verdict) -> Headers:
    out: Headers = []
    anthropic = surface == "anthropic"
    for name, limit, left, reset in _rows(limits, verdict):
        limit_name, remaining_name, reset_name = NAMES[anthropic, name]
        out.append((limit_name, str(limit).encode()))
        out.append((remaining_name, str(left).encode()))
        out.append((reset_name, (moment(reset) if anthropic else duration(reset)).encode()))
    return out


MESSAGES = {
    "requests": "Rate limit reached for requests per minute on this API key ({limit}); retry in {wait}s",
    "tokens": "Rate limit reached for tokens per minute on this API key ({limit}); retry in {wait}s",
    "concurrency": "Too many concurrent requests on this API key ({limit}); retry in {wait}s",
}


def refusal(surface: str, limits: Limits, verdict: Verdict) -> GatewayError:
    """The 429 for a refused verdict, with `Retry-After` and the rate-limit headers."""
    wait = max(math.ceil(verdict.retry_after), 1)
    extra = {k.decode(): v.decode() for k, v in headers(surface, limits, verdict)}
    extra["Retry-After"] = str(wait)
    if verdict.refused == "budget":
        period = {"day": "for today", "total": "in total"}.get(limits.budget_period or "", "for this month")
        return QuotaExceeded(
            f"This API key's budget of {limits.budget_usd} USD {period} is spent", headers=extra
        )
    limit = verdict.refused or "requests"
    number = {"requests": limits.rpm, "tokens": limits.tpm, "concurrency": limits.max_concurrency}[limit]
    return LimitExceeded(limit, MESSAGES[limit].format(limit=number, wait=wait), headers=extra)


MODEL_MESSAGES = {
    "requests": "Rate limit reached for requests per minute on the model '{slug}' ({limit}, shared by all "
    "API keys); retry in {wait}s",
    "tokens": "Rate limit reached for tokens per minute on the model '{slug}' ({limit}, shared by all "
    "API keys); retry in {wait}s",
    "concurrency": "Too many concurrent requests on the model '{slug}' ({limit}, shared by all API keys); "
    "retry in {wait}s",
}


def model_refusal(slug: str, limits: Limits, verdict: Verdict) -> GatewayError:
    """The 429 for a request the model's own limit refused: `Retry-After` and a message naming the
    model's limit. No rate-limit headers: those describe the key's own allowance, which this request
    did not reach, and a model's is not the client's to pace by."""
    wait = max(math.ceil(verdict.retry_after), 1)
    limit = verdict.refused if verdict.refused in MODEL_MESSAGES else "requests"
    number = {"requests": limits.rpm, "tokens": limits.tpm, "concurrency": limits.max_concurrency}[limit]
    message = MODEL_MESSAGES[limit].format(slug=slug, limit=number, wait=wait)
    return LimitExceeded(limit, message, headers={"Retry-After": str(wait)})
