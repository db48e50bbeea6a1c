"""Traces: spans exported over OTLP/HTTP to a real endpoint, the client's trace continued and handed on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.conftest import AUTH, make_settings
from tests.observe.upstream import HeaderCapture
from tests.servers import LiveServer, serving
from worker.app import create_app
from worker.config.settings import SettingsError
from worker.simulator.plumbing import answer_lifespan, read_all

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
ASK = {"messages": [{"role": "user", "content": "hi"}]}


class Collector:
    """An OTLP/HTTP trace receiver: `POST /v1/traces` with an `ExportTraceServiceRequest` protobuf."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.content_types: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body = await read_all(receive)
        assert scope["path"] == "/v1/traces"
        self.content_types.append(dict(scope["headers"]).get(b"content-type", b"").decode())
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def attributes(span: Span) -> dict[str, Any]:
    return {a.key: plain(a.value) for a in span.attributes}


def test_one_request_span_and_one_attempt_span_continue_the_client_trace(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    collector, capture = Collector(), HeaderCapture()
    with serving(collector) as otlp, serving(capture) as upstream:
        gateway = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1", otel_exporter_otlp_endpoint=otlp.url
        )
        headers = {**AUTH, "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "X-Request-Id": "traced-1"}
        r = httpx.post(f"{gateway.url}/qwq-32b", json=ASK, headers=headers, timeout=10)
        assert r.status_code == 200
        gateway.stop()  # the app's shut-down flushes the spans still batched
    assert collector.content_types and set(collector.content_types) == {"application/x-protobuf"}

    spans = [s for s in collector.spans if s.trace_id.hex() == TRACE_ID]
    assert len(spans) == 2, [s.name for s in collector.spans]
    (request,) = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    (attempt,) = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert request.parent_span_id.hex() == PARENT_ID  # the client's trace, continued
    assert attempt.parent_span_id == request.span_id

    got = attributes(request)
    assert request.name == "chat qwq-32b"
    assert got["gen_ai.operation.name"] == "chat" and got["gen_ai.request.model"] == "qwq-32b"
    assert got["gen_ai.usage.input_tokens"] == 3 and got["gen_ai.usage.output_tokens"] == 5
    assert got["gen_ai.response.finish_reasons"] == ["stop"]
    assert got["http.response.status_code"] == 200 and got["gateway.request_id"] == "traced-1"

    tried = attributes(attempt)
    assert attempt.name == "chat Qwen/QwQ-32B"
    assert tried["gen_ai.request.model"] == "Qwen/QwQ-32B" and tried["gen_ai.provider.name"] == "openai"
    assert tried["gateway.target"] == "qwq-32b#1" and tried["gateway.outcome"] == "ok"
    assert tried["server.address"] == "127.0.0.1"

    (sent,) = capture.headers  # the upstream continues the attempt's span
    assert sent["traceparent"] == f"00-{TRACE_ID}-{attempt.span_id.hex()}-01"
    assert sent["x-request-id"] == "traced-1"


def test_a_streamed_attempt_span_has_its_tokens_and_a_failed_one_its_error(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    collector, capture = Collector(), HeaderCapture(["500", "ok"])
    with serving(collector) as otlp, serving(capture) as upstream:
        gateway = live_gateway_factory(
            upstream_url=f"{upstream.url}/v1", otel_exporter_otlp_endpoint=otlp.url, retry_backoff_base=0.01
        )
        body = {"model": "qwq-32b", "stream": True, **ASK}
        r = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH, timeout=10)
        assert r.status_code == 200
        gateway.stop()
    attempts = [s for s in collector.spans if s.kind == Span.SPAN_KIND_CLIENT]
    assert [attributes(s)["gateway.outcome"] for s in attempts] == ["upstream_error", "ok"]
    assert attempts[0].status.code == attempts[0].status.STATUS_CODE_ERROR
    assert attributes(attempts[1])["gen_ai.usage.output_tokens"] == 5
    (request,) = [s for s in collector.spans if s.kind == Span.SPAN_KIND_SERVER]
    assert attributes(request)["gateway.attempts"] == 2
    # Without a client traceparent the gateway starts the trace; each attempt hands on its own span.
    assert [h["traceparent"].split("-")[2] for h in capture.headers] == [s.span_id.hex() for s in attempts]


def test_tracing_off_loads_nothing_of_opentelemetry() -> None:
    code = (
        # Not `tests.conftest`: the test harness imports redis-py, which loads OpenTelemetry itself.
        "import sys, httpx, asyncio, pathlib, tempfile\n"
        "from worker.app import create_app\n"
        "from worker.config.settings import load_settings\n"
        "AUTH = {'Authorization': 'Bearer k'}\n"
        "env = {'API_KEYS': 'k', 'DATA_DIR': tempfile.mkdtemp()}\n"
        "app = create_app(load_settings(env, wrangler_toml=pathlib.Path('/nonexistent/wrangler.toml')))\n"
        "async def ask():\n"
        "    t = httpx.ASGITransport(app=app)\n"
        "    async with httpx.AsyncClient(transport=t, base_url='http://g') as c:\n"
        "        assert (await c.post('/qwq-32b', json={'prompt': 'hi'}, headers=AUTH)).status_code == 200\n"
        "asyncio.run(ask())\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_tracing_asked_for_without_the_extra_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "worker.observe.tracing", None)  # as if OpenTelemetry were absent
    with pytest.raises(SettingsError, match=r"qwq-gateway\[otel\]"):
        create_app(make_settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318"))
