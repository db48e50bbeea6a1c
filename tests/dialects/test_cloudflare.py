"""The Cloudflare REST dialect: envelopes, codes and statuses, byte for byte."""

from __future__ import annotations

import orjson
import pytest

from worker.core.errors import (
    BadRequest,
    ClientClosed,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
)
from worker.dialects import cloudflare


def test_success_envelope() -> None:
    assert cloudflare.envelope({"response": "hi"}) == {
        "result": {"response": "hi"},
        "success": True,
        "errors": [],
        "messages": [],
    }


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (Unauthorized(detail="The API key is not valid"), 401, 10000, "Authentication error"),
        (NotFound("No such model @cf/x/y or task"), 400, 5007, "No such model @cf/x/y or task"),
        (PayloadTooLarge(), 413, 3006, "Request body too large"),
        (
            UnsupportedMediaType(),
            415,
            5006,
            "Content-Type must be application/json",
        ),
        (RateLimited(), 429, 3040, "The upstream is over capacity; retry later"),
        (UpstreamTimeout(), 408, 3007, "The upstream did not answer in time"),
        (ClientClosed(), 408, 3008, "Client closed the request"),
        (UpstreamError(), 500, 5000, "Upstream model error"),
    ],
)
def test_failure_envelope(error: GatewayError, status: int, code: int, message: str) -> None:
    assert cloudflare.failure(error) == (
        status,
        {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []},
    )


def test_bad_input_lists_every_violation_in_workers_ai_style() -> None:
    error = BadRequest(
        "Invalid payload: ...",
        [
            {"path": "/messages/0/content", "message": "5 is not of type 'string'"},
            {"path": "/temperature", "message": "9 is greater than the maximum of 5"},
        ],
    )
    status, body = cloudflare.failure(error)
    assert status == 400 and body["errors"] == [
        {
            "code": 5006,
            "message": "AiError: Bad input: Error: 5 is not of type 'string' at '/messages/0/content'; "
            "9 is greater than the maximum of 5 at '/temperature'",
        }
    ]


def test_error_event_is_the_failure_envelope_as_sse() -> None:
    error = UpstreamError("The upstream closed the connection mid-answer")
    assert cloudflare.error_event(error) == b"data: " + orjson.dumps(cloudflare.failure(error)[1]) + b"\n\n"
