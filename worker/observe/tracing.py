"""OpenTelemetry traces: one span per request, one per upstream attempt, exported over OTLP/HTTP.

On only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and the `otel` extra is installed: `pip install
"qwq-gateway[otel]"`). Off, nothing of OpenTelemetry is imported and no middleware or observer is added,
so tracing costs nothing at all. On:
- the request span (kind SERVER) continues the client's W3C `traceparent` when it sends one, and ends
  with the GenAI attributes of the answer: `gen_ai.request.model`, `gen_ai.usage.input_tokens`,
  `gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons`, plus the status and the request id;
- each upstream attempt is a child span (kind CLIENT) named after the upstream model, with its target,
  outcome and provider, and its `traceparent` goes to the upstream with the request (`context.TRACEPARENT`),
  so an upstream that traces too continues the same trace;
- spans leave in batches from the SDK's own thread (`BatchSpanProcessor`): the event loop never waits
  for the collector.

The provider is this app's own, not the process-global one, so that two apps in one process (tests) do
not share exporters; it is shut down, and its last spans flushed, when the app stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from worker.core.errors import ClientClosed
from worker.core.outcome import RequestRecord
from worker.observe.attempts import AttemptTarget
from worker.observe.context import REQUEST_ID, TRACEPARENT

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


class Tracing:
    """The tracer of one app: `middleware` makes request spans, `attempt` (an attempt observer) the rest."""

    def __init__(self, endpoint: str, service_name: str = "qwq-gateway") -> None:
        traces_url = endpoint.rstrip("/")
        if not traces_url.endswith("/v1/traces"):
            traces_url += "/v1/traces"  # the OTLP/HTTP rule for the base endpoint variable
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
        self.tracer = self.provider.get_tracer("qwq-gateway")

    def middleware(self, app: ASGIApp, record_of: Callable[[Scope], RequestRecord | None]) -> ASGIApp:
        return _TraceMiddleware(app, self.tracer, record_of)

    def attempt(self, target: AttemptTarget, record: RequestRecord | None) -> _AttemptSpan:
        return _AttemptSpan(self.tracer, target)

    def shutdown(self) -> None:
        """Flush the spans not yet sent and stop the exporter (the app is stopping)."""
        self.provider.shutdown()


class _TraceMiddleware:
    """Pure ASGI: the request span around everything below the access log."""

    def __init__(
        self, app: ASGIApp, tracer: trace.Tracer, record_of: Callable[[Scope], RequestRecord | None]
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.record_of = record_of

    @property
    def state(self) -> Any:
        """The Starlette app's state, reachable through this wrapper as through the app itself."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {_TRACE_HEADERS[k]: v.decode("latin-1") for k, v in scope["headers"] if k in _TRACE_HEADERS}
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        span = self.tracer.start_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        status = 0

        async def send_noting_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except ClientClosed:
            status = 499
            raise
        except Exception:
            status = 500
            raise
        finally:
            self._end(span, scope, status)
            otel_context.detach(token)

    def _end(self, span: trace.Span, scope: Scope, status: int) -> None:
        record = self.record_of(scope)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("gateway.request_id", REQUEST_ID.get())
        if record is not None and record.surface:
            span.update_name(f"chat {record.model}")
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", record.model)
            span.set_attribute("gateway.surface", record.surface)
            span.set_attribute("gateway.attempts", record.attempts)
            if record.target:
                span.set_attribute("gateway.target", record.target)
            _usage_attributes(span, record)
            if record.error_code:
                span.set_attribute("error.type", record.error_code)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class _AttemptSpan:
    """One upstream attempt: a child of the request span, whose context goes to the upstream."""

    __slots__ = ("_span",)

    def __init__(self, tracer: trace.Tracer, target: AttemptTarget) -> None:
        host = urlsplit(target.origin).hostname or "" if target.origin else ""
        self._span = tracer.start_span(
            f"chat {target.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": target.adapter,
                "gen_ai.request.model": target.model,
                "gateway.target": target.name,
                **({"server.address": host} if host else {}),
            },
        )
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(self._span))
        # Read by the adapter as it builds the upstream request (`context.upstream_headers`), which
        # happens in this task on the attempt's first read; the next attempt sets its own.
        TRACEPARENT.set(carrier.get("traceparent", ""))

    def end(self, outcome: str, record: RequestRecord | None, breaker: str, resting_keys: int) -> None:
        span = self._span
        span.set_attribute("gateway.outcome", outcome)
        if outcome != "ok":
            span.set_attribute("error.type", outcome)
            span.set_status(Status(StatusCode.ERROR))
        if record is not None:
            _usage_attributes(span, record)
        span.end()
        TRACEPARENT.set("")


def _usage_attributes(span: trace.Span, record: RequestRecord) -> None:
    usage = record.usage
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    if record.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [record.finish_reason])
