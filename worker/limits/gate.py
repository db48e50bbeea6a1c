"""What the endpoint calls: admit a request under a limit, and settle it when its answer has ended.

Admission is one limiter call (one store round trip) and only for a request under a limit: its key's,
or its model's own (the model table's `rpm`, `tpm`, `max_concurrency`, shared by every key); both are
decided and booked in that one call. A key without limits, on a model without limits, costs nothing.
The reservation is the prompt's tokens plus `max_tokens` (or, when the request names none, the rest of
the context window: the worst case) and that many tokens at the model's highest price. When the
answer has ended, the request record reaches `Gate` as a sink: it queues a `Settle` (free the lease,
correct the tokens and cost by what the answer really used) for the limiter's next round trip, which
applies it before any admission that comes after it (`batching.Batched`): the way out adds no wait, and
a client that sends its next request as soon as its answer ends finds its lease already free.

When the store cannot be reached, `LIMITS_ON_STORE_ERROR` decides: `closed` (the default) refuses the
request with a 503, because a limit or budget that silently stops holding is what a limit exists to
prevent; `open` lets it through unlimited and logs once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from worker.config.models import ModelEntry
from worker.core.cost import Prices
from worker.core.errors import GatewayError
from worker.core.identity import Identity
from worker.core.ir import ChatRequest
from worker.core.outcome import RequestRecord
from worker.core.tokenizer import prompt_tokens_soon
from worker.limits.answers import Headers, headers, model_refusal, refusal
from worker.limits.base import Limiter
from worker.limits.policy import Ask, Settle, has_limits
from worker.observe import hooks
from worker.store.base import StoreUnavailable

log = logging.getLogger("worker.limits")


class LimitsUnavailable(GatewayError):
    status = 503
    code = "limits_unavailable"
    cloudflare_code = 3040
    message = "The rate-limit store cannot be reached; retry later"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An admitted request's reservation, kept on its record until it is settled."""

    held: tuple[tuple[str, int | None], ...]
    """(state id, tpm) of every set of limits it was booked in: the key's, the model's."""
    lease: str
    tokens: int
    worst_cost: float
    period: str
    """The key's budget period ("" without a budget): only the key's state is charged money."""
    prices: Prices | None


def _new_lease() -> str:
    return uuid.uuid4().hex


def dearest(prices: Mapping[str, Prices], entry: ModelEntry) -> Prices | None:
    """The highest prices any target of the model may charge: the worst case a budget reserves."""
    found = [
        p
        for name, p in prices.items()
        if (name == entry.slug or name.startswith(entry.slug + "#")) and not p.free
    ]
    if not found:
        return None
    return Prices(max(p.input_per_m for p in found), max(p.output_per_m for p in found))


class Gate:
    def __init__(
        self,
        limiter: Limiter,
        prices: Mapping[str, Prices],
        lease_ttl: float,
        fail_open: bool,
    ) -> None:
        self.limiter = limiter
        self.prices = prices
        self.lease_ttl = lease_ttl
        self.fail_open = fail_open
        self._down = False
        self._worst_prices: dict[str, Prices | None] = {}

    def _dearest(self, entry: ModelEntry) -> Prices | None:
        """`dearest`, worked out once per model (the price table is fixed for the process's life)."""
        if entry.slug not in self._worst_prices:
            self._worst_prices[entry.slug] = dearest(self.prices, entry)
        return self._worst_prices[entry.slug]

    async def admit(
        self,
        identity: Identity,
        request: ChatRequest,
        entry: ModelEntry,
        surface: str,
        record: RequestRecord | None,
    ) -> Headers:
        """Admit the request or raise its 429; the rate-limit headers for the answer when admitted."""
        limits = identity.limits
        if not has_limits(limits) and not has_limits(entry.limits):
            return []
        prompt = await prompt_tokens_soon(request)  # QwQ's tokens, chat template included
        completion = (
            request.params.max_tokens or entry.default_max_tokens or max(entry.context_window - prompt, 0)
        )
        tokens = prompt + completion
        prices = self._dearest(entry) if limits.budget_usd is not None else None
        worst = prices.cost(prompt, completion) if prices is not None else 0.0
        # A lease id only where a concurrency limit will hold one: "" frees nothing when settled.
        concurrency = limits.max_concurrency is not None or entry.limits.max_concurrency is not None
        lease = _new_lease() if concurrency else ""
        ask = Ask(identity.key_id, limits, tokens, worst, lease, self.lease_ttl, entry.slug, entry.limits)
        try:
            verdict = await self.limiter.admit(ask)
        except StoreUnavailable as exc:
            if not self._down:
                log.warning(
                    "limits store unreachable (%s): requests are %s",
                    exc,
                    "let through" if self.fail_open else "refused",
                )
            self._down = True
            if self.fail_open:
                return []
            raise LimitsUnavailable() from exc
        if self._down:
            log.warning("limits store reachable again")
            self._down = False
        if not verdict.admitted:
            by_model = verdict.by == 1 or not has_limits(limits)
            if verdict.refused == "budget":
                hooks.budget_rejected()
            else:
                hooks.limit_rejected(("model_" if by_model else "") + (verdict.refused or "requests"))
            if by_model:
                raise model_refusal(entry.slug, entry.limits, verdict)
            raise refusal(surface, limits, verdict)
        if record is not None:
            held = tuple((name, held_limits.tpm) for name, held_limits in ask.held())
            period = verdict.period if limits.budget_usd is not None else ""
            record.admission = Ticket(held, ask.lease, tokens, worst, period, prices)
        return headers(surface, limits, verdict)

    def __call__(self, record: RequestRecord) -> None:
        """The record sink: queue the settlement of an admitted request (never waits)."""
        ticket = record.admission
        if not isinstance(ticket, Ticket):
            return
        record.admission = None
        usage = record.usage
        if usage is not None:
            used = usage.prompt_tokens + usage.completion_tokens
            cost = (
                usage.cost
                if usage.cost is not None
                else (
                    ticket.prices.cost(usage.prompt_tokens, usage.completion_tokens) if ticket.prices else 0.0
                )
            )
        elif not record.target and record.attempts == 0:
            used, cost = 0, 0.0  # nothing reached an upstream: nothing was spent
        else:
            used, cost = ticket.tokens, ticket.worst_cost  # no usage known: keep the worst case
        delta = used - ticket.tokens
        # Money is the key's alone (the first set); a model has no budget.
        self.limiter.settle_soon(
            [
                Settle(
                    name,
                    ticket.lease,
                    delta,
                    tpm,
                    cost - ticket.worst_cost,
                    ticket.period if index == 0 else "",
                )
                for index, (name, tpm) in enumerate(ticket.held)
            ]
        )

    async def close(self) -> None:
        await self.limiter.aclose()  # writes the settlements still queued first
