"""Small pure-ASGI helpers shared by the endpoints: headers, bounded body reading, JSON answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from worker.core.errors import (
    BadRequest,
    ClientClosed,
    PayloadTooLarge,
    RequestTimeout,
    TooManyHeaders,
    UnsupportedMediaType,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def query_params(scope: Scope, allowed: frozenset[str]) -> dict[str, str]:
    """The query parameters, refusing (400) any the route does not know: a typo such as `?shap=choices`
    silently ignored would give the client an answer it did not ask for."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return {}
    params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(
            f"Unknown query parameter '{unknown[0][:40]}'",
            {"allowed": sorted(allowed)},
        )
    return params


def require_json(scope: Scope) -> None:
    """Accept `application/json` (any parameters) or a missing Content-Type; refuse the rest with 415."""
    content_type = header(scope, b"content-type")
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(detail=f"Got Content-Type '{media[:100]}'")


def check_headers(scope: Scope, limit: int) -> None:
    """Refuse (431) more than `limit` header fields. `qwq-gateway`'s server refuses them before the
    app is called (worker/web/protocol.py); this holds under any server, once the head is parsed."""
    if len(scope["headers"]) > limit:
        raise TooManyHeaders(detail=f"The request has {len(scope['headers'])}; the limit is {limit}")


async def read_body(scope: Scope, receive: Receive, limit: int, within: float = 0.0) -> bytes:
    """Read the whole body, refusing (413) as soon as it is known to exceed `limit` bytes, and (408)
    when it has not all arrived `within` seconds (0: no limit): a client trickling a byte a
    second would otherwise hold its connection, and this request's memory, for as long as it likes."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(detail=f"The body is {declared} bytes; the limit is {limit}")
    if within <= 0:
        return await _read_chunks(receive, limit)
    # One timer that cancels this task, as `asyncio.timeout` does, without its context manager and
    # its per-use objects: every request reads a body, and this was about half of that read's cost.
    task = asyncio.current_task()
    assert task is not None, "a body is read by a task"
    cancelling = task.cancelling()
    expired: list[bool] = []
    timer = asyncio.get_running_loop().call_later(within, _expire, task, expired)
    try:
        return await _read_chunks(receive, limit)
    except asyncio.CancelledError:
        if expired and task.uncancel() <= cancelling:  # our own timer's cancellation, nobody else's
            raise RequestTimeout(detail=f"The whole body must arrive within {within:g} seconds") from None
        raise
    finally:
        timer.cancel()


def _expire(task: asyncio.Task[Any], expired: list[bool]) -> None:
    expired.append(True)
    task.cancel()


async def _read_chunks(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientClosed()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(detail=f"The body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("Invalid payload: the body is empty", [{"path": "/", "message": "empty body"}])
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            "Invalid payload: the body is not valid JSON",
            [{"path": "/", "message": f"not JSON: {exc.msg} at position {exc.pos}"}],
        ) from exc


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    raw_headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if headers:
        raw_headers.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
