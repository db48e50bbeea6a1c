"""Pure ASGI middleware: request ids, the access log (with 499 for clients that left), last-resort errors.

Pure ASGI, never Starlette's base-HTTP middleware class, which hides client disconnects from the app. The log
line carries method, path, status, duration and request id: never a body, a header value or a
traceback; method and path with their control characters escaped (`logformat.escape`). An exception
that escapes an endpoint is logged by class name only and answered with a generic 500 that names the
request id, so a stack trace can reach neither the client nor the log.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
import traceback
from collections.abc import Sequence
from typing import Any

import orjson

from worker.core.errors import ClientClosed
from worker.core.outcome import RecordSink, RequestRecord
from worker.observe.context import LOG_RECORD_ATTRIBUTE, REQUEST_ID
from worker.web.asgi import Message, Receive, Scope, Send, send_json
from worker.web.logformat import escape

log = logging.getLogger("worker.access")
REQUEST_ID_KEY = "worker.request_id"
STATUS_KEY = "worker.status"
RECORD_KEY = "worker.record"
ACCESS_LINE = "%s %s %d %.1fms id=%s"


# Request ids must be unique, not secret: a random per-process prefix and a counter give 16 hex digits
# like `secrets.token_hex(8)` did, without its `getrandom` system call on every request (3% of CPU).
_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


def request_id_of(scope: Scope) -> str:
    return str(scope.get(REQUEST_ID_KEY, "-"))


def record_of(scope: Scope) -> RequestRecord | None:
    """The request's record, for the endpoint and router to fill in (`worker.core.outcome`)."""
    record: RequestRecord | None = scope.get(RECORD_KEY)
    return record


def _incoming_request_id(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            if 0 < len(value) <= 64 and value.replace(b"-", b"").replace(b"_", b"").isalnum():
                return str(value.decode("ascii"))
            return None
    return None


class AccessLogMiddleware:
    """Logs each request, and hands its finished record to `sinks` (usage, metrics: `core.outcome`)."""

    def __init__(self, app: Any, sinks: Sequence[RecordSink] = ()) -> None:
        self.app = app
        self.sinks = sinks  # the state's own list: sinks started with the app (its lifespan) are heard too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]  # as the client sent it (a route may normalise the scope's copy)
        request_id = _incoming_request_id(scope) or new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        id_token = REQUEST_ID.set(request_id)  # for every log line and the upstream (`worker.observe`)
        peer = scope.get("client")
        record = RequestRecord(request_id, scope["method"], path, client=peer[0] if peer else "")
        scope[RECORD_KEY] = record
        rid_header = (b"x-request-id", request_id.encode())
        started = record.started
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientClosed:
            status = 499
        except Exception as exc:  # the last resort: nothing may escape with a traceback
            log.error("request %s failed: %s at %s", request_id, type(exc).__name__, _where(exc))
            if status == 0:
                body = orjson.dumps({"error": "Unexpected failure", "detail": {"request_id": request_id}})
                await send_with_id_safe(send_with_id, body)
            status = 500
        finally:
            status = scope.get(STATUS_KEY, status)
            record.status = status
            record.duration = time.perf_counter() - started
            if log.isEnabledFor(logging.INFO):
                # `makeRecord` + `handle` is `log.info` without `findCaller`'s walk up the stack for a
                # source line the access line never shows (~20% of the line's cost); filters and
                # handlers apply as for any record.
                # Method and path are the client's: escaped, or a `%0a` in the path would forge a line.
                args = (escape(scope["method"]), escape(path), status, record.duration * 1000, request_id)
                extra = {LOG_RECORD_ATTRIBUTE: record}  # the JSON format's fields (`observe.jsonlog`)
                log.handle(
                    log.makeRecord(log.name, logging.INFO, __file__, 0, ACCESS_LINE, args, None, None, extra)
                )
            for sink in self.sinks:
                try:
                    sink(record)
                except Exception as exc:  # accounting must never turn an answered request into a failure
                    log.error("request %s: record sink failed: %s", request_id, type(exc).__name__)
            REQUEST_ID.reset(id_token)


def _where(exc: BaseException) -> str:
    """The innermost frame as `file:line`: enough to find a bug, without a traceback's locals or text."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


async def send_with_id_safe(send: Send, body: bytes) -> None:
    try:
        await send_json(send, 500, body)
    except Exception:  # the client may be gone as well; there is nobody left to tell
        log.debug("could not deliver the 500 answer")
