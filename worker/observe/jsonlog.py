"""`LOG_FORMAT=json`: one JSON object per log line, for log shippers that parse instead of guess.

Every line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message` and `request_id`
(the request being served, from `worker.observe.context`; empty outside a request). The access line
(one per request, `worker.access`) also carries the request record's figures (`worker.core.outcome`):
method, path, status, duration, time to first token, surface, model, key id, target, attempts, tokens,
cost and error code. A record holds names and figures only, never a key, a header value or a body, and
so does this line. An exception is named by its class, never with a traceback or its message, as the
text format does.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from worker.core.outcome import RequestRecord
from worker.observe.context import LOG_RECORD_ATTRIBUTE, REQUEST_ID
from worker.observe.prices import Prices


class JsonFormatter(logging.Formatter):
    def __init__(self, prices: Prices | None = None) -> None:
        super().__init__()
        self._prices = prices or Prices()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        # The text up to the second changes once a second: formatted then, not for every line.
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        request: RequestRecord | None = getattr(record, LOG_RECORD_ATTRIBUTE, None)
        if request is not None:
            self._add_request(line, request)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return orjson.dumps(line).decode()

    def _add_request(self, line: dict[str, Any], request: RequestRecord) -> None:
        line["request_id"] = request.request_id
        line["method"] = request.method
        line["path"] = request.path
        line["status"] = request.status
        line["duration_ms"] = round(request.duration * 1000, 3)
        if not request.surface:
            return
        ttft = request.time_to_first_token
        line["ttft_ms"] = None if ttft is None else round(ttft * 1000, 3)
        line["surface"] = request.surface
        line["model"] = request.model
        line["key_id"] = request.key_id
        line["streamed"] = request.streamed
        line["target"] = request.target
        line["attempts"] = request.attempts
        line["error_code"] = request.error_code
        usage = request.usage
        if usage is not None:
            line["prompt_tokens"] = usage.prompt_tokens
            line["completion_tokens"] = usage.completion_tokens
            line["reasoning_tokens"] = usage.reasoning_tokens
            line["cost_usd"] = self._prices.cost(request)
        if request.finish_reason:
            line["finish_reason"] = request.finish_reason
