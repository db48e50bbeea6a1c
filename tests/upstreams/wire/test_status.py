from __future__ import annotations

import pytest

from worker.core.errors import BadRequest, RateLimited, UpstreamError, UpstreamTimeout
from worker.upstreams.wire.status import error_for_status, redact, upstream_message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "bad temperature", "type": "invalid_request_error"}}', "bad temperature"),
        (b'{"object": "error", "message": "flat vLLM error"}', "flat vLLM error"),
        (b'{"detail": "fastapi detail"}', "fastapi detail"),
        (b'{"errors": [{"code": 5006, "message": "cf says no"}], "success": false}', "cf says no"),
        (b'{"error": "plain string"}', "plain string"),
        (b"some text", "some text"),
        (b"<html>502</html>", ""),
        (b"", ""),
    ],
)
def test_upstream_message_shapes(body: bytes, message: str) -> None:
    assert upstream_message(body) == message


def test_mapping_table() -> None:
    body = b'{"error": {"message": "nope"}}'
    assert isinstance(error_for_status(400, body, {}), BadRequest)
    assert isinstance(error_for_status(422, body, {}), BadRequest)
    refused = error_for_status(401, body, {})
    assert type(refused) is UpstreamError and refused.status == 500 and "credentials" in refused.message
    assert error_for_status(403, body, {}).status == 500
    assert isinstance(error_for_status(504, body, {}), UpstreamTimeout)
    limited = error_for_status(429, body, {"retry-after": "7"})
    assert isinstance(limited, RateLimited) and limited.headers == {"Retry-After": "7"}
    assert error_for_status(429, body, {}).headers == {}
    server = error_for_status(503, body, {})
    assert server.status == 500 and "503" in server.message and "nope" in server.message
    assert error_for_status(404, b'{"error": {"message": "The model `x` does not exist"}}', {}).status == 400
    assert error_for_status(404, b"Not Found", {}).status == 500


def test_redact() -> None:
    """Every error an adapter raises goes through this once, in the exchange (`test_exchange` proves it
    for each adapter's error table)."""
    assert (
        redact("invalid key sk-secret-123 for this org", ("sk-secret-123",)) == "invalid key *** for this org"
    )
    assert redact("a-b-a", ("a", "")) == "***-b-***"
    assert redact("nothing to hide", ("",)) == "nothing to hide"
