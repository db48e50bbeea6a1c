"""`LOG_FORMAT=text` (the default): a line written while a request is served carries its request id."""

from __future__ import annotations

import httpx

from tests.processes import first_answer, gateway_process, stop
from tests.servers import FaultServer, free_port, serving

CLIENT_KEY = "client-key-for-text-log-ids"


def test_the_upstream_failure_warnings_carry_the_answers_request_id() -> None:
    # The start-up probe is answered; the next request's attempts all fail (the router warns, gives up).
    with serving(FaultServer(["ok", "500"])) as upstream:
        port = free_port()
        process = gateway_process(
            port, API_KEYS=CLIENT_KEY, UPSTREAM_URL=f"{upstream.url}/v1", RETRY_BACKOFF_BASE="0.01"
        )
        try:
            assert first_answer(process, port, CLIENT_KEY).status_code == 200
            failed = httpx.post(
                f"http://127.0.0.1:{port}/qwq-32b",
                json={"prompt": "hi"},
                headers={"Authorization": f"Bearer {CLIENT_KEY}"},
                timeout=10,
            )
        finally:
            out = stop(process)

    assert failed.status_code >= 500, failed.text
    request_id = failed.headers["x-request-id"]
    warnings = [line for line in out.splitlines() if " WARNING worker.routing: " in line]
    assert warnings, out
    for line in warnings:  # every warning written for the failed request: attempt failures and giving up
        assert line.endswith(f" id={request_id}"), line
    assert any("given up" in line for line in warnings), warnings
    # Lines outside any request (start-up) carry no id; the access line names the id once.
    started = next(line for line in out.splitlines() if "Application startup complete" in line)
    assert " id=" not in started
    (access,) = [line for line in out.splitlines() if f"id={request_id}" in line and "worker.access" in line]
    assert access.count("id=") == 1
