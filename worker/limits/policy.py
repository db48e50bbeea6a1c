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
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from worker.core.identity import NO_LIMITS, Limits

MODEL_PREFIX = "model:"

WINDOW = 60.0
"""Seconds a per-minute limit spans."""
EPSILON = 1e-9
"""Slack on money (USD) comparisons."""
SLACK = 1e-3
"""Seconds of slack on the rate comparisons: theoretical arrival times are sums of intervals on an
epoch-sized clock (about 1.7e9 s, where one float step is 2.4e-7 s), so a burst of exactly the limit
decided at one instant can add up to a hair over the window. A millisecond is far above that error
and far below any interval a per-minute limit has (60 ms at 1,000 requests per minute)."""

Refusal = Literal["requests", "tokens", "concurrency", "budget"]


def has_limits(limits: Limits) -> bool:
    # Spelt out rather than `any(...)` over a generator: asked several times per limited request.
    return (
        limits.rpm is not None
        or limits.tpm is not None
        or limits.max_concurrency is not None
        or limits.budget_usd is not None
    )


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
    """A unique id for this request's concurrency lease ("" when no concurrency limit holds one)."""
    lease_ttl: float
    model: str = ""
    """The model's slug, when the model has limits of its own (shared by every key)."""
    model_limits: Limits = NO_LIMITS

    def held(self) -> list[tuple[str, Limits]]:
        """(state id, limits) of every set of limits the request falls under: its key's when it has any,
        then its model's. A model's state id (`model:<slug>`) cannot be a key's (theirs have no colon)."""
        out = [(self.key_id, self.limits)] if has_limits(self.limits) else []
        if has_limits(self.model_limits):
            out.append((MODEL_PREFIX + self.model, self.model_limits))
        return out


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
    """The budget period the reservation was booked in (reconciled in the same one); "" without a
    budget."""
    by: int = 0
    """Which set of limits refused: 0 the key's, 1 the model's (`Ask.held`)."""


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
    """Decide one request against its key's limits alone and, when admitted, book it in `state`."""
    return admit_all([(state, ask.limits)], ask, now)


def admit_all(held: Sequence[tuple[KeyState, Limits]], ask: Ask, now: float) -> Verdict:
    """Decide one request against every set of limits it falls under (its key's, its model's) and book
    it in all of them or in none: a request one of them refuses takes no slot of the others. The verdict
    is the first set's (the key's, whose headers the client sees), or the refusing set's (`by`)."""
    plans: list[tuple[KeyState, Limits, _Plan]] = []
    for index, (state, limits) in enumerate(held):
        plan = _plan(state, limits, ask, now)
        if isinstance(plan, Verdict):
            return dataclasses.replace(plan, by=index)
        plans.append((state, limits, plan))
    verdicts = [_book(state, limits, plan, ask, now) for state, limits, plan in plans]
    return verdicts[0]


@dataclass(frozen=True, slots=True)
class _Plan:
    leases: dict[str, float]
    period: str
    spent: float
    new_tat: float
    new_ttat: float


def _plan(state: KeyState, limits: Limits, ask: Ask, now: float) -> _Plan | Verdict:
    """What admitting would book in one state, or the refusal (nothing changed but expired leases)."""
    leases = {lease: until for lease, until in state.leases.items() if until > now}
    state.leases = leases
    # The period only matters to a budget (and naming it formats a date): "" without one.
    period = budget_period(limits.budget_period, now) if limits.budget_usd is not None else ""
    spent = state.spent if state.period == period else 0.0
    if limits.max_concurrency is not None and len(leases) >= limits.max_concurrency:
        return Verdict(False, "concurrency", max(min(leases.values(), default=now) - now, 1.0))
    if limits.budget_usd is not None and spent >= limits.budget_usd - EPSILON:
        return Verdict(False, "budget", until_next(limits.budget_period, now))
    new_tat = 0.0
    if limits.rpm is not None:
        new_tat = max(state.tat, now) + WINDOW / max(limits.rpm, 1)
        if limits.rpm <= 0 or new_tat - now > WINDOW + SLACK:
            return Verdict(False, "requests", max(new_tat - now - WINDOW, 0.0) if limits.rpm > 0 else WINDOW)
    new_ttat = 0.0
    if limits.tpm is not None:
        new_ttat = max(state.ttat, now) + ask.tokens * WINDOW / max(limits.tpm, 1)
        if limits.tpm <= 0 or new_ttat - now > WINDOW + SLACK:
            wait = new_ttat - now - WINDOW if ask.tokens <= limits.tpm else WINDOW
            return Verdict(False, "tokens", max(wait, 0.0))
    return _Plan(leases, period, spent, new_tat, new_ttat)


def _book(state: KeyState, limits: Limits, plan: _Plan, ask: Ask, now: float) -> Verdict:
    remaining_requests = remaining_tokens = None
    reset_requests = reset_tokens = 0.0
    if limits.rpm is not None:
        state.tat = plan.new_tat
        left = (WINDOW - (plan.new_tat - now)) / (WINDOW / limits.rpm)
        remaining_requests = max(math.floor(left + SLACK / (WINDOW / limits.rpm)), 0)
        reset_requests = plan.new_tat - now
    if limits.tpm is not None:
        state.ttat = plan.new_ttat
        left_tokens = (WINDOW - (plan.new_ttat - now)) * limits.tpm / WINDOW
        remaining_tokens = max(math.floor(left_tokens + SLACK * limits.tpm / WINDOW), 0)
        reset_tokens = plan.new_ttat - now
    if limits.max_concurrency is not None:
        plan.leases[ask.lease] = now + ask.lease_ttl
    if limits.budget_usd is not None:
        state.period, state.spent = plan.period, plan.spent + ask.worst_cost
    return Verdict(
        True, None, 0.0, remaining_requests, reset_requests, remaining_tokens, reset_tokens, plan.period
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
