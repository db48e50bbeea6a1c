"""Translate an upstream's HTTP error answer into the gateway's error tree (one table, one function).

    upstream status     client gets                         why
    400, 404*, 413, 422 400 with the upstream's message     the upstream refused what we sent
    401, 403            500 "rejected the gateway's creds"  the client's key is fine; ours is not
    408, 504            500 upstream_timeout                the upstream gave up in time
    429                 429 (+ Retry-After if sent)         the client can usefully wait and retry
    other               500 with status and message         upstream model error

*404 is a client error only when the upstream says which model it does not know; a plain 404 means the
upstream URL is wrong, which is the gateway's configuration, so it answers 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from worker.core.errors import BadRequest, GatewayError, RateLimited, UpstreamError, UpstreamTimeout

MAX_MESSAGE = 500


def upstream_message(body: bytes) -> str:
    """The human part of an upstream error body, in any of the shapes seen in the wild."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:MAX_MESSAGE] if text and not text.lstrip().startswith("<") else ""
    return error_message(data)


def error_message(data: Any) -> str:
    """The message of a decoded error report (a body, or a stream event): OpenAI's `error.message`
    (or a bare `error` string), vLLM's flat `message`, FastAPI's `detail`, Cloudflare's `errors[0]`."""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(error.get(key), str):
                    return str(error[key])[:MAX_MESSAGE]
        if isinstance(error, str):
            return error[:MAX_MESSAGE]
        if isinstance(data.get("detail"), str):
            return str(data["detail"])[:MAX_MESSAGE]
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", ""))[:MAX_MESSAGE]
    return ""


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def error_for_status(status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
    """The default error table. The message is the upstream's, unredacted: the exchange
    (`wire.exchange`) redacts every error it raises, once."""
    message = upstream_message(body)
    said = f": {message}" if message else ""
    if status in (400, 413, 422) or (status == 404 and "model" in message.lower()):
        return BadRequest(f"The upstream refused the request{said}", {"upstream_status": status})
    if status in (401, 403):
        return UpstreamError("The upstream rejected the gateway's credentials", {"upstream_status": status})
    if status in (408, 504):
        return UpstreamTimeout(f"The upstream timed out ({status}){said}", {"upstream_status": status})
    if status == 429:
        retry_after = headers.get("retry-after")
        extra = {"Retry-After": retry_after} if retry_after else None
        return RateLimited(
            f"The upstream is rate limiting requests{said}", {"upstream_status": status}, headers=extra
        )
    return UpstreamError(f"The upstream answered {status}{said}", {"upstream_status": status})
