"""The Cloudflare Workers AI REST dialect (`/client/v4/accounts/{account_id}/ai/run/{model}`).

The input is the same Workers AI schema as `/:modelSlug`, and so is the answer, wrapped in Cloudflare's
API envelope (`result`, `success`, `errors`, `messages`). Failures use Cloudflare's failure envelope with
its numeric codes and statuses (`errors.py` gives every error class its `cloudflare_code`): an unknown
model is Cloudflare's 400/5007, a timeout its 408/3007, bad input 400/5006 with a message in the form
Workers AI writes it (`AiError: Bad input: Error: ...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from worker.core.errors import BadRequest, ClientClosed, GatewayError, NotFound, Unauthorized, UpstreamTimeout


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def _bad_input(error: GatewayError) -> str:
    detail = error.detail
    if isinstance(detail, list) and detail and all(isinstance(v, Mapping) for v in detail):
        reasons = "; ".join(f"{v.get('message', 'invalid')} at '{v.get('path', '/')}'" for v in detail)
        return f"AiError: Bad input: Error: {reasons}"
    return f"AiError: Bad input: Error: {error.message}"


def failure(error: GatewayError) -> tuple[int, dict[str, Any]]:
    """Cloudflare's status and failure envelope for an error."""
    status, message = error.status, error.message
    if isinstance(error, Unauthorized):
        message = "Authentication error"
    elif isinstance(error, NotFound):
        status = 400
    elif isinstance(error, BadRequest):
        message = _bad_input(error)
    elif isinstance(error, UpstreamTimeout | ClientClosed):
        status = 408
    body = {
        "result": None,
        "success": False,
        "errors": [{"code": error.cloudflare_code, "message": message}],
        "messages": [],
    }
    return status, body


def error_event(error: GatewayError) -> bytes:
    return b"data: " + orjson.dumps(failure(error)[1]) + b"\n\n"
