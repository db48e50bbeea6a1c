"""`LOG_FORMAT=json`: every line of a real gateway process is one JSON object, and none holds a secret."""

from __future__ import annotations

import logging
import sys
from typing import Any

import httpx
import orjson

from tests.processes import first_answer, gateway_process, stop
from tests.servers import FaultServer, free_port, serving
from worker.core.ir import Usage
from worker.core.outcome import RequestRecord
from worker.observe.context import LOG_RECORD_ATTRIBUTE, REQUEST_ID
from worker.observe.jsonlog import JsonFormatter
from worker.observe.prices import Prices

CLIENT_KEY = "client-secret-key-0123456789"
UPSTREAM_KEY = "upstream-secret-key-9876543210"
METRICS_KEY = "metrics-secret-key-5555"
WRONG_KEY = "guessed-key-that-is-wrong-4444"
PROMPT = "PROMPT-MARKER-the-body-must-never-be-logged"
SECRETS = (CLIENT_KEY, UPSTREAM_KEY, METRICS_KEY, WRONG_KEY, PROMPT)


def test_every_line_is_json_with_the_request_id_and_no_secret_at_debug_level() -> None:
    # The upstream answers the start-up probe, then fails the next request once (a retry is logged).
    with serving(FaultServer(["ok", "500", "ok"])) as upstream:
        port = free_port()
        process = gateway_process(
            port,
            API_KEYS=CLIENT_KEY,
            UPSTREAM_URL=f"{upstream.url}/v1",
            UPSTREAM_API_KEY=UPSTREAM_KEY,
            METRICS_KEY=METRICS_KEY,
            LOG_LEVEL="debug",
            LOG_FORMAT="json",
            RETRY_BACKOFF_BASE="0.01",
        )
        try:
            url = f"http://127.0.0.1:{port}"
            assert first_answer(process, port, CLIENT_KEY).status_code == 200
            auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
            body = {"messages": [{"role": "user", "content": PROMPT}]}
            headers = {**auth, "X-Request-Id": "client-chosen-id-1"}
            assert httpx.post(f"{url}/qwq-32b", json=body, headers=headers, timeout=10).status_code == 200
            stream = {"model": "qwq-32b", "stream": True, **body}
            chat = httpx.post(f"{url}/v1/chat/completions", json=stream, headers=auth, timeout=10)
            assert chat.status_code == 200
            wrong = {"Authorization": f"Bearer {WRONG_KEY}"}
            assert httpx.post(f"{url}/qwq-32b", json=body, headers=wrong, timeout=10).status_code == 401
            metrics = {"Authorization": f"Bearer {METRICS_KEY}"}
            assert httpx.get(f"{url}/metrics", headers=metrics, timeout=10).status_code == 200
        finally:
            out = stop(process)

    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) >= 6, out
    objects = []
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} reached the log: {line}"
        entry = orjson.loads(line)  # every line, the server's own included
        assert {"time", "level", "logger", "message", "request_id"} <= set(entry), line
        objects.append(entry)

    access = [o for o in objects if o["logger"] == "worker.access"]
    chosen = next(o for o in access if o["request_id"] == "client-chosen-id-1")
    assert chosen["status"] == 200 and chosen["surface"] == "workers" and chosen["model"] == "qwq-32b"
    assert chosen["target"] == "qwq-32b#1" and chosen["attempts"] == 2 and chosen["error_code"] == ""
    assert chosen["prompt_tokens"] == 3 and chosen["completion_tokens"] == 5  # the fake upstream's usage
    assert chosen["cost_usd"] > 0 and chosen["duration_ms"] >= chosen["ttft_ms"] > 0
    assert chosen["finish_reason"] == "stop"
    # The retry's warning, written during that request, carries its id too.
    retry = next(o for o in objects if o["logger"] == "worker.routing" and o["level"] == "warning")
    assert retry["request_id"] == "client-chosen-id-1"
    streamed = next(o for o in access if o["path"] == "/v1/chat/completions")
    assert streamed["streamed"] is True and streamed["request_id"] == chat.headers["x-request-id"]
    refused = next(o for o in access if o["status"] == 401)
    assert refused["request_id"] and refused["surface"] == "workers" and refused["model"] == ""


def test_the_formatter_alone() -> None:
    formatter = JsonFormatter(Prices())
    token = REQUEST_ID.set("abc123")
    try:
        line = logging.LogRecord("worker.x", logging.WARNING, __file__, 1, "upstream %s failed", ("t",), None)
        plain: dict[str, Any] = orjson.loads(formatter.format(line))
    finally:
        REQUEST_ID.reset(token)
    assert plain["request_id"] == "abc123" and plain["message"] == "upstream t failed"
    assert plain["level"] == "warning" and plain["time"].endswith("Z") and len(plain["time"]) == 24

    record = RequestRecord("r1", "POST", "/qwq-32b", surface="openai", model="m", status=200)
    record.usage = Usage(prompt_tokens=2, completion_tokens=3)
    record.first_event_at, record.duration = record.started + 0.25, 0.5
    access = logging.LogRecord("worker.access", logging.INFO, __file__, 1, "x", (), None)
    setattr(access, LOG_RECORD_ATTRIBUTE, record)
    entry = orjson.loads(formatter.format(access))
    assert entry["request_id"] == "r1" and entry["ttft_ms"] == 250.0 and entry["duration_ms"] == 500.0
    assert entry["prompt_tokens"] == 2 and entry["cost_usd"] == 0.0  # no prices known to this formatter
    try:
        raise ValueError("a message that may hold upstream text")
    except ValueError:
        failing = logging.LogRecord("worker", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    text = formatter.format(failing)
    assert orjson.loads(text)["error"] == "ValueError" and "upstream text" not in text


def test_with_several_workers_the_supervisor_writes_json_too() -> None:
    port = free_port()
    process = gateway_process(port, "--workers", "2", API_KEYS=CLIENT_KEY, LOG_FORMAT="json")
    try:
        assert first_answer(process, port, CLIENT_KEY).status_code == 200
    finally:
        out = stop(process)
    lines = [line for line in out.splitlines() if line.strip()]
    messages = [orjson.loads(line)["message"] for line in lines]  # every line, or this fails
    assert any(m.startswith("Started parent process") for m in messages), messages
    assert any(m.startswith("POST /qwq-32b 200") for m in messages), messages
