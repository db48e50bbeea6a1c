"""Prometheus metrics: what `GET /metrics` shows, fed by the request record and a few direct hooks.

Where each figure comes from:
- the request record (`worker.core.outcome`), through `Metrics.sink`, after the answer has ended:
  requests, duration, time to first token, tokens, cost, the gateway's own added latency, per-key figures;
- the router's attempt hook (`worker.observe.attempts`): attempts by target and outcome with their
  duration, and the target's breaker state and resting keys right after each attempt;
- `hooks.open_stream`/`close_stream` around every SSE answer (`worker.web.streaming`);
- `hooks.usage_dropped`, `limit_rejected`, `budget_rejected`: for the usage queue and the limits to call;
- `/readyz`'s own view (`Router.health`), read again at each scrape for breaker states and resting keys.

Names follow the OpenTelemetry GenAI semantic conventions in Prometheus form where one exists
(`gen_ai_server_request_duration_seconds`, ...), `qwq_gateway_` elsewhere. Labels are bounded: surfaces,
model slugs and target names come from the configuration, statuses and outcomes from small fixed sets;
a key's id appears only in the `qwq_gateway_key_*` family, which exists only with `METRICS_KEY_IDS=1`.

With several worker processes (`qwq-gateway --workers N`) prometheus-client's multiprocess mode keeps each
process's values in files under `PROMETHEUS_MULTIPROC_DIR` (set up by `qwq-gateway`), and a scrape of any
worker sums them: counters and histograms add up, open streams add up over live processes, a breaker's
state is the worst any live process sees.

The sink runs on the event loop after the answer: in-memory increments only, with the labelled children
of each label combination looked up once and kept (`labels()` validates and locks on every call).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from worker.config.models import ModelTable
from worker.core.ir import Usage
from worker.core.outcome import RequestRecord
from worker.observe.attempts import AttemptTarget
from worker.observe.prices import Prices
from worker.observe.series import Families, Family

# The `*_created` series (a timestamp per labelled child) double the page for nothing a dashboard uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: from a cached answer to a reasoning model thinking for minutes.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# The gateway's own share of a request: parsing, routing, encoding; well under a millisecond when healthy.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
# Tokens per request, as the GenAI conventions advise (powers of 4).
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
BREAKER_CODES = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    """Every metric of one gateway process, in a registry of its own (tests build many apps)."""

    def __init__(
        self,
        table: ModelTable,
        health: Callable[[], Mapping[str, Any]] | None = None,
        per_key: bool = False,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._health = health
        self._prices = Prices(table)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        make = _Maker(self.registry, self.multiprocess)
        self.requests = make.counter(
            "qwq_gateway_requests",
            "Requests answered, by surface, model and HTTP status (499: the client left).",
            ["surface", "model", "status"],
        )
        self.duration = make.histogram(
            "gen_ai_server_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer.",
            ["surface", "model"],
            buckets=DURATION_BUCKETS,
        )
        self.ttft = make.histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Seconds from a request's arrival to the first event of its answer.",
            ["surface", "model"],
            buckets=DURATION_BUCKETS,
        )
        self.overhead = make.histogram(
            "qwq_gateway_overhead_seconds",
            "The gateway's own added latency: a request's duration less the time its upstream attempts took.",
            ["surface"],
            buckets=OVERHEAD_BUCKETS,
        )
        self.tokens = make.histogram(
            "gen_ai_client_token_usage",
            "Tokens per request by model and type (input: the prompt; output: "
            "the completion, reasoning included).",
            ["model", "token_type"],
            buckets=TOKEN_BUCKETS,
        )
        self.reasoning = make.counter(
            "qwq_gateway_reasoning_tokens",
            "Reasoning tokens (part of the output tokens), by model.",
            ["model"],
        )
        self.cost = make.counter(
            "qwq_gateway_cost_usd",
            "Cost in US dollars at the model table's prices, by model.",
            ["model"],
        )
        self.attempts = make.counter(
            "qwq_gateway_upstream_attempts",
            "Upstream attempts by target and outcome (`ok`, an error code, or `cancelled`).",
            ["target", "outcome"],
        )
        self.attempt_duration = make.histogram(
            "gen_ai_client_operation_duration_seconds",
            "Seconds of each upstream attempt, to the end of its answer or its failure.",
            ["target", "outcome"],
            buckets=DURATION_BUCKETS,
        )
        self.open_streams = make.gauge(
            "qwq_gateway_open_streams",
            "Streamed answers being sent now.",
            mode="livesum",
        )
        self.breaker = make.gauge(
            "qwq_gateway_breaker_state",
            "Circuit breaker of each target: 0 closed, 1 half-open, 2 open.",
            ["target"],
            mode="livemax",
        )
        self.resting = make.gauge(
            "qwq_gateway_upstream_keys_resting",
            "Upstream API keys of each target resting after a 401, 403 or 429.",
            ["target"],
            mode="livemax",
        )
        self.limited = make.counter(
            "qwq_gateway_rate_limited",
            "Requests refused by a rate limit, by limit (a key's `requests`, `tokens`, `concurrency`; "
            "a model's own `model_requests`, `model_tokens`, `model_concurrency`).",
            ["limit"],
        )
        self.budget = make.counter(
            "qwq_gateway_budget_rejections",
            "Requests refused because a budget was spent.",
        )
        self.dropped = make.counter(
            "qwq_gateway_usage_dropped",
            "Usage records dropped because the usage queue was full.",
        )
        self.per_key = per_key
        if per_key:
            self.key_requests = make.counter(
                "qwq_gateway_key_requests",
                "Requests by client key id and status.",
                ["key_id", "status"],
            )
            self.key_tokens = make.counter(
                "qwq_gateway_key_tokens",
                "Tokens by client key id and type.",
                ["key_id", "token_type"],
            )
            self.key_cost = make.counter(
                "qwq_gateway_key_cost_usd",
                "Cost in US dollars by client key id.",
                ["key_id"],
            )
        self._by_request: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}
        self._by_model: dict[str, tuple[Any, Any, Any, Any]] = {}
        self._by_attempt: dict[tuple[str, str], tuple[Any, Any]] = {}

    # -- the request record ------------------------------------------------------------------------

    def sink(self, record: RequestRecord) -> None:
        """Count one finished request (a `RecordSink`)."""
        key = (record.surface or "none", record.model or "none", record.status)
        children = self._by_request.get(key)
        if children is None:
            surface, model, status = key
            children = (
                self.requests.labels(surface, model, str(status)),
                self.duration.labels(surface, model),
                self.ttft.labels(surface, model),
                self.overhead.labels(surface),
            )
            self._by_request[key] = children
        requests, duration, ttft, overhead = children
        requests.inc()
        if not record.model:  # refused before a model was named, or no model route: counted, not timed
            return
        duration.observe(record.duration)
        if record.first_event_at is not None:
            ttft.observe(record.first_event_at - record.started)
        if record.attempts:
            overhead.observe(max(0.0, record.duration - record.upstream_seconds))
        usage = record.usage
        if usage is not None:
            cost = self._count_usage(record, usage)
            if self.per_key and record.key_id:
                self._count_key(record, usage, cost)
        elif self.per_key and record.key_id:
            self.key_requests.labels(record.key_id, str(record.status)).inc()

    def _count_usage(self, record: RequestRecord, usage: Usage) -> float:
        model = record.model
        children = self._by_model.get(model)
        if children is None:
            children = (
                self.tokens.labels(model, "input"),
                self.tokens.labels(model, "output"),
                self.reasoning.labels(model),
                self.cost.labels(model),
            )
            self._by_model[model] = children
        input_tokens, output_tokens, reasoning, cost_counter = children
        input_tokens.observe(usage.prompt_tokens)
        output_tokens.observe(usage.completion_tokens)
        if usage.reasoning_tokens:
            reasoning.inc(usage.reasoning_tokens)
        cost = self._prices.cost(record)
        if cost:
            cost_counter.inc(cost)
        return cost

    def _count_key(self, record: RequestRecord, usage: Usage, cost: float) -> None:
        key_id = record.key_id
        self.key_requests.labels(key_id, str(record.status)).inc()
        self.key_tokens.labels(key_id, "input").inc(usage.prompt_tokens)
        self.key_tokens.labels(key_id, "output").inc(usage.completion_tokens)
        if cost:
            self.key_cost.labels(key_id).inc(cost)

    # -- upstream attempts (worker.observe.attempts) ---------------------------------------------------

    def attempt(self, target: AttemptTarget, record: RequestRecord | None) -> _TimedAttempt:
        return _TimedAttempt(self, target.name)

    def _attempt_ended(self, name: str, outcome: str, seconds: float, breaker: str, resting: int) -> None:
        children = self._by_attempt.get((name, outcome))
        if children is None:
            children = (self.attempts.labels(name, outcome), self.attempt_duration.labels(name, outcome))
            self._by_attempt[(name, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)
        if self.multiprocess:
            # Each worker writes its own view now: a scrape reads the files, not the other processes.
            # With one process the scrape reads `/readyz`'s view itself (`refresh`).
            self.breaker.labels(name).set(BREAKER_CODES.get(breaker, 0))
            self.resting.labels(name).set(resting)

    # -- the scrape ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Breaker states and resting keys as this process sees them now (a breaker cools down with
        time, without any attempt to report it)."""
        if self._health is None:
            return
        for model in self._health().values():
            for target in model.get("targets", ()):
                name = target["name"]
                self.breaker.labels(name).set(BREAKER_CODES.get(target.get("state", "closed"), 0))
                self.resting.labels(name).set(target.get("keys_resting", 0))

    def render(self) -> bytes:
        """The Prometheus text exposition of this process, or of every worker process in multiprocess mode."""
        self.refresh()
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class _TimedAttempt:
    __slots__ = ("_metrics", "_name", "_started")

    def __init__(self, metrics: Metrics, name: str) -> None:
        self._metrics = metrics
        self._name = name
        self._started = _clock()

    def end(self, outcome: str, record: RequestRecord | None, breaker: str, resting_keys: int) -> None:
        self._metrics._attempt_ended(self._name, outcome, _clock() - self._started, breaker, resting_keys)


def _clock() -> float:
    return time.perf_counter()


class _Maker:
    """Metric families: this module's lock-free ones (`series`), or prometheus-client's own in
    multiprocess mode, where the values must go to its shared files."""

    def __init__(self, registry: CollectorRegistry, multiprocess: bool) -> None:
        self.registry = registry
        self.multiprocess = multiprocess
        self.local = Families()
        if not multiprocess:
            registry.register(self.local)

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Any:
        if self.multiprocess:
            return Counter(name, doc, labels, registry=self.registry)
        return self.local.add(Family("counter", name, doc, labels))

    def histogram(self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Any:
        if self.multiprocess:
            return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)
        return self.local.add(Family("histogram", name, doc, labels, buckets))

    def gauge(self, name: str, doc: str, labels: Sequence[str] = (), mode: str = "livesum") -> Any:
        if self.multiprocess:
            return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode=mode)  # type: ignore[arg-type]
        return self.local.add(Family("gauge", name, doc, labels))


def mark_process_dead(pid: int | None = None) -> None:
    """A worker process is stopping: its live gauges no longer count (multiprocess mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]
