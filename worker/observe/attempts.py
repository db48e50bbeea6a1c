"""The hook through which the router reports each upstream attempt to metrics and traces.

The router knows when an attempt starts and how it ends (first event, failure, the end of its stream);
it does not know who listens. An observer hands out one `Attempt` per try and hears its end: the outcome
(`ok`, an error code such as `upstream_timeout`, or `cancelled` when the client left), and the target's
breaker state and resting keys as they are right after it, so that every worker process keeps its view of
the target current without being scraped. With no observer the router makes no call at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.core.outcome import RequestRecord


@dataclass(frozen=True, slots=True)
class AttemptTarget:
    """What an observer may say about the target tried (no URL path, no key)."""

    name: str
    """`slug#n`, as in `/readyz` and the request record."""
    adapter: str
    origin: str
    """`scheme://host[:port]` only."""
    model: str
    """The model name sent to the upstream."""


class Attempt(Protocol):
    def end(self, outcome: str, record: RequestRecord | None, breaker: str, resting_keys: int) -> None:
        """The attempt is over; `breaker` is the target's breaker state after it."""


class AttemptObserver(Protocol):
    def attempt(self, target: AttemptTarget, record: RequestRecord | None) -> Attempt:
        """An attempt at `target` starts now (the upstream request is about to be made)."""
