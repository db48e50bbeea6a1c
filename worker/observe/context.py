"""The current request's id and trace context, for every log line and every upstream request.

Context variables, not arguments: the id is set once by the access-log middleware (`worker.web.access_log`)
and read far below it, by the JSON log formatter (any logger, any module) and by the adapters building an
upstream request's headers, without threading it through every signature. Each request runs in its own
task, whose context is a copy, so one request's id never leaks into another's.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str] = ContextVar("worker_request_id", default="")
"""The id of the request being served; empty outside a request (start-up lines)."""

LOG_RECORD_ATTRIBUTE = "request_record"
"""The `logging.LogRecord` attribute by which the access line hands its `RequestRecord` to the JSON
formatter (`worker.observe.jsonlog`); the text format ignores it."""

TRACEPARENT: ContextVar[str] = ContextVar("worker_traceparent", default="")
"""The W3C `traceparent` of the upstream attempt being made; empty when tracing is off."""


def upstream_headers() -> dict[str, str]:
    """The headers that carry the request's identity to the upstream: `x-request-id` (so the upstream's
    logs can be matched with ours) and, when tracing is on, `traceparent`."""
    headers: dict[str, str] = {}
    request_id = REQUEST_ID.get()
    if request_id:
        headers["x-request-id"] = request_id
    traceparent = TRACEPARENT.get()
    if traceparent:
        headers["traceparent"] = traceparent
    return headers
