"""The router: which target of a model answers a request, and what happens when one fails.

For each request the model's targets are put in order: those whose circuit breaker is open are left
out; with `strategy = "failover"` (the default) the rest keep their list order, with `"weighted"` the
first one is drawn at random by `weight` and the others follow in list order. Each target is tried up
to 1 + `RETRY_ATTEMPTS` times (exponential backoff with full jitter, `Retry-After` honoured up to
`RETRY_AFTER_MAX`), then the next target is tried. A target whose context window the prompt and its
`max_tokens` do not fit is skipped without a request (`worker.routing.window`); when none fits, the
answer is a 400 `context_length_exceeded` and nothing was forwarded. All of it happens before the first
event reaches the client: once an event has gone out, a failure ends the answer (as an error event when
streaming) and is never retried, so nothing is answered twice. The whole loop stays inside `REQUEST_DEADLINE`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from worker.answer.path import answer_events
from worker.config.models import ModelEntry, ModelTable, Target
from worker.config.settings import Settings
from worker.core.closing import close
from worker.core.errors import GatewayError, UpstreamError, UpstreamTimeout
from worker.core.ir import ChatRequest, Event, ReasoningDelta, TextDelta, ToolCallDelta
from worker.core.outcome import RequestRecord
from worker.observe.attempts import Attempt, AttemptObserver, AttemptTarget
from worker.routing.breaker import CircuitBreaker
from worker.routing.deadlines import RequestDeadline
from worker.routing.keypool import KeyPool
from worker.routing.normalize import normalize
from worker.routing.retry import Verdict, backoff, classify, counts_against_target, rests_key, retry_after
from worker.routing.window import PromptFit, window_of
from worker.upstreams.base import Upstream

log = logging.getLogger("worker.routing")


def public_origin(base_url: str) -> str:
    """`scheme://host[:port]` only: paths can hold account ids and URLs can hold credentials."""
    if not base_url:
        return ""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


@dataclass(slots=True)
class TargetState:
    """What the router remembers about one target of one model, for the life of the process."""

    name: str
    target: Target
    breaker: CircuitBreaker
    keys: KeyPool
    attempts: int = 0
    failures: int = 0

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "adapter": self.target.adapter,
            "origin": public_origin(self.target.base_url),
            "model": self.target.model,
            "weight": self.target.weight,
            **self.breaker.snapshot(),
            "attempts": self.attempts,
            "failures": self.failures,
        }
        if len(self.keys) > 1:
            out["keys"] = len(self.keys)
            out["keys_resting"] = len(self.keys) - self.keys.fresh_count()
        return out


class Router:
    """Routes a request to its model's targets; adapters and target states are built once, at start-up."""

    def __init__(
        self,
        settings: Settings,
        adapters: Mapping[str, Upstream],
        table: ModelTable | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.adapters = adapters
        self._rng = rng or random.Random()
        self._states: dict[str, list[TargetState]] = {}
        self.observers: list[AttemptObserver] = []
        """Who hears of each upstream attempt (metrics, traces: `worker.observe.attempts`)."""
        self._observed: dict[str, AttemptTarget] = {}
        for entry in table.entries.values() if table else ():
            self.states(entry)

    def states(self, entry: ModelEntry) -> list[TargetState]:
        states = self._states.get(entry.slug)
        if states is None:
            s = self.settings
            states = [
                TargetState(
                    name=f"{entry.slug}#{index + 1}",
                    target=target,
                    breaker=CircuitBreaker(s.breaker_failures, s.breaker_cooldown),
                    keys=KeyPool(target.keys, s.key_cooldown),
                )
                for index, target in enumerate(entry.targets)
            ]
            self._states[entry.slug] = states
        return states

    def plan(self, entry: ModelEntry) -> list[TargetState]:
        """The targets to try, in order (see the module docstring)."""
        healthy = [s for s in self.states(entry) if s.breaker.available()]
        if entry.strategy == "weighted" and len(healthy) > 1:
            weights = [s.target.weight for s in healthy]
            if sum(weights) > 0:
                first = self._rng.choices(healthy, weights=weights)[0]
                healthy.remove(first)
                healthy.insert(0, first)
        return healthy

    def health(self) -> dict[str, Any]:
        """Per model: ready (at least one target not shut out by its breaker) and each target's state."""
        models: dict[str, Any] = {}
        for slug, states in self._states.items():
            models[slug] = {
                "ready": any(s.breaker.available() for s in states),
                "targets": [s.snapshot() for s in states],
            }
        return models

    def events(
        self, request: ChatRequest, entry: ModelEntry, record: RequestRecord | None = None
    ) -> AsyncIterator[Event]:
        """The client-ready answer: routed attempts (retries, failover) under the answer checks of
        `worker.answer.path` (reasoning placement, prompt-mode tools, structured output and its one retry).
        Every run of the answer path is a fresh routing, all under one request deadline. How tools are
        offered follows the model's first target (`tool_mode`); its failover targets should agree.
        `record`, when given, learns the target that answered, the attempts, the time of the first event
        and how much text the upstream generated (`worker.core.outcome`)."""
        deadline = RequestDeadline(self.settings.request_deadline)

        def run(upstream_request: ChatRequest) -> AsyncIterator[Event]:
            return self._route(upstream_request, entry, deadline, record)

        return deadline.bound(answer_events(request, entry.primary, run, self.settings.reasoning_mode))

    async def _route(
        self, request: ChatRequest, entry: ModelEntry, deadline: RequestDeadline, record: RequestRecord | None
    ) -> AsyncIterator[Event]:
        plan = self.plan(entry)
        if not plan:
            wait = min(s.breaker.retry_in() for s in self.states(entry))
            raise UpstreamError(
                f"Every upstream of model '{entry.slug}' is failing; retry in {wait:.0f} s",
                {"circuit": "open"},
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        last_error: GatewayError | None = None
        fit = PromptFit(request, entry)
        for state in plan:
            if not await fit.fits(window_of(state.target, entry)):
                continue
            retries = 0
            while True:
                if deadline.expired():
                    raise _deadline_error(deadline, last_error)
                if not state.breaker.allow():
                    break
                stream, key = self._attempt(request, state, deadline)
                started = 0.0
                if record is not None:
                    record.attempts += 1
                    record.target = state.name
                    started = time.perf_counter()
                # Before the first read: that read builds the upstream request, with the attempt's trace.
                watched = self._watch(state, record) if self.observers else None
                try:
                    first = await anext(stream)
                except GatewayError as error:
                    await close(stream)
                    last_error = error
                    try:
                        pause = self._after_failure(state, key, error, retries)
                    finally:
                        self._ended(watched, state, error.code, record, started)
                    if pause is None:
                        break
                    wait = pause
                    if deadline.cap(wait) != wait or deadline.expired():
                        raise _deadline_error(deadline, error) from error
                    log.warning(
                        "upstream %s failed (%s); retry %d in %.2f s",
                        state.name,
                        error.code,
                        retries + 1,
                        wait,
                    )
                    await asyncio.sleep(wait)
                    retries += 1
                    continue
                except BaseException:
                    state.breaker.release()
                    await close(stream)
                    self._ended(watched, state, "cancelled", record, started)
                    raise
                state.breaker.record_success()
                # The answer from its first event on (kept in this generator, not a nested one: a
                # layer costs every event a resumption). A failure now reaches the client, never retried.
                outcome = "ok"
                try:
                    if record is None:
                        yield first
                        async for event in stream:
                            yield event
                    else:
                        if record.first_event_at is None:
                            record.first_event_at = time.perf_counter()
                        record.generated_chars += _generated(first)
                        yield first
                        async for event in stream:
                            record.generated_chars += _generated(event)
                            yield event
                except UpstreamError as error:
                    state.failures += 1
                    state.breaker.record_failure()
                    outcome = error.code
                    raise
                except BaseException:
                    outcome = "cancelled"
                    raise
                finally:
                    await close(stream)
                    if record is not None or watched is not None:
                        self._ended(watched, state, outcome, record, started)
                return
            log.warning("upstream %s given up (%s)", state.name, last_error.code if last_error else "open")
        if last_error is None and fit.largest_refused:
            raise fit.refusal()
        if last_error is None:
            raise UpstreamError(f"Every upstream of model '{entry.slug}' is failing", {"circuit": "open"})
        raise last_error

    def _watch(self, state: TargetState, record: RequestRecord | None) -> list[Attempt]:
        target = self._observed.get(state.name)
        if target is None:
            t = state.target
            target = AttemptTarget(state.name, t.adapter, public_origin(t.base_url), t.model)
            self._observed[state.name] = target
        return [observer.attempt(target, record) for observer in self.observers]

    @staticmethod
    def _ended(
        watched: list[Attempt] | None,
        state: TargetState,
        outcome: str,
        record: RequestRecord | None,
        started: float,
    ) -> None:
        """An attempt is over: its time goes on the record, its outcome to the observers."""
        if record is not None:
            record.upstream_seconds += time.perf_counter() - started
        if watched:
            keys = state.keys
            resting = len(keys) - keys.fresh_count() if len(keys) > 1 else 0
            for attempt in watched:
                attempt.end(outcome, record, state.breaker.state, resting)

    def _attempt(
        self, request: ChatRequest, state: TargetState, deadline: RequestDeadline
    ) -> tuple[AsyncIterator[Event], str]:
        settings = self.settings
        key = state.keys.acquire()
        target = dataclasses.replace(state.target, api_key=key) if key else state.target
        state.attempts += 1
        first = state.target.first_byte_timeout or settings.upstream_first_byte_timeout or None
        idle = state.target.idle_timeout or settings.upstream_idle_timeout or None
        adapter = self.adapters[target.adapter]
        return normalize(adapter.events(request, target), request, deadline.cap(first), idle), key

    def _after_failure(self, state: TargetState, key: str, error: GatewayError, retries: int) -> float | None:
        """Book the failure; return the seconds to wait before retrying this target, or None to move on."""
        verdict = classify(error)
        if verdict is Verdict.FATAL:
            state.breaker.release()
            raise error
        state.failures += 1
        if counts_against_target(error):
            state.breaker.record_failure()
        else:
            state.breaker.release()
        if key and rests_key(error):
            state.keys.rest(key)
        settings = self.settings
        if verdict is Verdict.FAILOVER or retries >= settings.retry_attempts:
            return None
        if verdict is Verdict.NEXT_KEY:
            return 0.0 if state.keys.has_fresh() else None
        if key and rests_key(error) and state.keys.has_fresh():
            return 0.0  # rate limited on this key: another key may go at once
        asked = retry_after(error)
        if asked is not None and asked > settings.retry_after_max:
            return None
        wait = backoff(retries, settings.retry_backoff_base, settings.retry_backoff_cap, self._rng)
        return max(wait, asked or 0.0)


def _generated(event: Event) -> int:
    """Characters the upstream generated in `event` (text, reasoning, tool arguments)."""
    kind = type(event)
    if kind is TextDelta or kind is ReasoningDelta:
        return len(event.text)  # type: ignore[union-attr]
    if kind is ToolCallDelta:
        return len(event.arguments)  # type: ignore[union-attr]
    return 0


def _deadline_error(deadline: RequestDeadline, cause: GatewayError | None) -> GatewayError:
    if cause is not None and not isinstance(cause, UpstreamError):
        return cause
    return UpstreamTimeout(
        f"No upstream answered within the request deadline of {deadline.seconds:g} s",
        {"deadline": deadline.seconds},
    )
