"""The seam between the core and the upstreams: one method, events out.

An adapter raises `GatewayError`s (never transport exceptions) and translates everything the upstream
says into the IR's events. It may assume the request was validated. It does not have to order or
complete the events: `worker.routing.normalize.normalize` makes every stream end with exactly one `Finish` and
one `UsageEvent`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from worker.config.models import Target
from worker.core.ir import ChatRequest, UpstreamEvent


class Upstream(Protocol):
    def events(self, request: ChatRequest, target: Target) -> AsyncIterator[UpstreamEvent]: ...

    async def aclose(self) -> None: ...
