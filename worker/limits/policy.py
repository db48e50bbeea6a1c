"""The admission decision, pure: one key's limit state in, a verdict and the new state out.

Requests per minute use GCRA (the generic cell rate algorithm): the state is one time, the theoretical
arrival time `tat`; each request moves it on by 60/rpm seconds and a request is refused when that would
put it more than 60 seconds ahead of now. It admits a burst of exactly `rpm` requests and then one every
60/rpm seconds, with no window edge where twice the limit can pass. Tokens per minute are the same
algorithm weighted by the tokens a request reserves (prompt + `max_tokens`); when the answer ends the
reservation is corrected by the tokens really used (`reconcile`). Concurrency is a set of leases, each
with an expiry, so a process killed mid-request cannot keep its slots past the lease's time-to-live.
A budget is money spent in the current period plus the worst-case cost of the requests in flight; a
request is admitted while that sum is under the budget, so the budget is overrun by at most one
request's worst case.

The SQLite and memory limiters run this Python; the Redis limiter runs the same rules in Lua
(`redis_limits.ADMIT`), and the tests hold all three to the same scenarios.
"""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from worker.core.identity import Limits

WINDOW = 60.0
"""Seconds a per-minute limit spans."""
EPSILON = 1e-9

Refusal = Literal["requests", "tokens", "concurrency", "budget"]


@dataclass(frozen=True, slots=True)
class Ask:
    """What one request asks of its key's limits."""

    key_id: str
    limits: Limits
    tokens: int
    """Tokens reserved: the prompt's plus `max_tokens`."""
    worst_cost: float
    """US dollars the request can cost at most (its reserved tokens at the target's prices)."""
    lease: str
    """A unique id for this request's concurrency lease."""
    lease_ttl: float


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    refused: Refusal | None = None
    retry_after: float = 0.0
    """Seconds until a refused request could pass (0 when admitted)."""
    remaining_requests: int | None = None
    reset_requests: float = 0.0
    """Seconds until the requests limit is back to its full allowance."""
    remaining_tokens: int | None = None
    reset_tokens: float = 0.0
    period: str = ""
    """The budget period the reservation was booked in (reconciled in the same one)."""


def budget_period(kind: str | None, now: float) -> str:
    """`d:2026-12-01`, `m:2026-12` or `t`: the period a budget counts in (UTC calendar; monthly when the
    key names none, as the admin API documents)."""
    if kind == "day":
        return "d:" + time.strftime("%Y-%m-%d", time.gmtime(now))
    if kind == "total":
        return "t"
    return "m:" + time.strftime("%Y-%m", time.gmtime(now))  # a budget without a period is monthly


@dataclass(slots=True)
class KeyState:
    """One key's limit state, stored as JSON (`to_json` / `of`), the same document in SQLite and Redis."""

    tat: float = 0.0
    ttat: float = 0.0
    leases: dict[str, float] = field(default_factory=dict)
    period: str = ""
    spent: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tat": self.tat,
            "ttat": self.ttat,
            "leases": self.leases,
            "period": self.period,
            "spent": self.spent,
        }

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> KeyState:
        if not data:
            return cls()
        leases = data.get("leases") or {}
        return cls(
            float(data.get("tat", 0)),
            float(data.get("ttat", 0)),
            {str(k): float(v) for k, v in leases.items()} if isinstance(leases, dict) else {},
            str(data.get("period", "")),
            float(data.get("spent", 0)),
        )


def admit(state: KeyState, ask: Ask, now: float) -> Verdict:
    """Decide one request and, when it is admitted, book it in `state` (changed in place)."""
    limits = ask.limits
    leases = {lease: until for lease, until in state.leases.items() if until > now}
    state.leases = leases
    period = budget_period(limits.budget_period, now)
    spent = state.spent if state.period == period else 0.0
    if limits.max_concurrency is not None and len(leases) >= limits.max_concurrency:
        return Verdict(False, "concurrency", max(min(leases.values(), default=now) - now, 1.0))
    if limits.budget_usd is not None and spent >= limits.budget_usd - EPSILON:
        return Verdict(False, "budget", until_next(limits.budget_period, now))
    tat = new_tat = 0.0
    if limits.rpm is not None:
        step = WINDOW / max(limits.rpm, 1)
        tat = max(state.tat, now)
        new_tat = tat + step
        if limits.rpm <= 0 or new_tat - now > WINDOW + EPSILON:
            return Verdict(False, "requests", max(new_tat - now - WINDOW, 0.0) if limits.rpm > 0 else WINDOW)
    ttat = new_ttat = 0.0
    if limits.tpm is not None:
        per_token = WINDOW / max(limits.tpm, 1)
        ttat = max(state.ttat, now)
        new_ttat = ttat + ask.tokens * per_token
        if limits.tpm <= 0 or new_ttat - now > WINDOW + EPSILON:
            wait = new_ttat - now - WINDOW if ask.tokens <= limits.tpm else WINDOW
            return Verdict(False, "tokens", max(wait, 0.0))
    # Admitted: book every limit at once.
    remaining_requests = remaining_tokens = None
    reset_requests = reset_tokens = 0.0
    if limits.rpm is not None:
        state.tat = new_tat
        remaining_requests = max(math.floor((WINDOW - (new_tat - now)) / (WINDOW / limits.rpm) + EPSILON), 0)
        reset_requests = new_tat - now
    if limits.tpm is not None:
        state.ttat = new_ttat
        remaining_tokens = max(math.floor((WINDOW - (new_ttat - now)) * limits.tpm / WINDOW + EPSILON), 0)
        reset_tokens = new_ttat - now
    if limits.max_concurrency is not None:
        leases[ask.lease] = now + ask.lease_ttl
    if limits.budget_usd is not None:
        state.period, state.spent = period, spent + ask.worst_cost
    return Verdict(
        True, None, 0.0, remaining_requests, reset_requests, remaining_tokens, reset_tokens, period
    )


@dataclass(frozen=True, slots=True)
class Settle:
    """The end of an admitted request: its lease to free and its reservations to correct."""

    key_id: str
    lease: str
    token_delta: int
    """Tokens really used less tokens reserved (usually negative)."""
    tpm: int | None
    cost_delta: float
    period: str


def reconcile(state: KeyState, settle: Settle) -> None:
    """Free the lease and correct the token and budget reservations (changed in place)."""
    state.leases.pop(settle.lease, None)
    if settle.tpm and settle.token_delta:
        state.ttat += settle.token_delta * WINDOW / settle.tpm
    if settle.period and state.period == settle.period:
        state.spent = max(state.spent + settle.cost_delta, 0.0)


def until_next(kind: str | None, now: float) -> float:
    """Seconds until the budget's period starts again (a day for a total budget: a hint, not a promise)."""
    if kind not in ("day", "total"):
        t = time.gmtime(now)
        year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
        return max(calendar.timegm((year, month, 1, 0, 0, 0)) - now, 1.0)
    return max(86400 - now % 86400, 1.0)
