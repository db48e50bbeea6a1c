"""`POST /{modelSlug}`: the primary contract, written as a pure ASGI endpoint.

Order of checks: auth (401) before the slug (404), so that an anonymous caller learns nothing about
which models exist; then Content-Type (415), size (413), JSON (400), schema (400). The answer shape is
the deployment's `RESPONSE_SHAPE` unless the request asks for another with `?shape=choices|workers` or
the header `X-Response-Shape`.
"""

from __future__ import annotations

import dataclasses

import orjson

from worker.aggregate import aggregate
from worker.asgi import (
    Receive,
    Scope,
    Send,
    decode_json,
    header,
    query_params,
    read_body,
    require_json,
    send_json,
)
from worker.auth import authenticate
from worker.deadline import with_deadline
from worker.dialects import workers
from worker.disconnect import DisconnectGuard
from worker.errors import BadRequest, GatewayError, NotFound
from worker.ir import ReasoningMode
from worker.middleware import STATUS_KEY, request_id_of
from worker.state import AppState
from worker.streaming import respond_stream
from worker.validation import validate_body

SHAPES = ("workers", "choices")


def render_workers_error(error: GatewayError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    headers = [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    return error.status, orjson.dumps(workers.render_error(error)), headers


QUERY_PARAMS = frozenset({"shape", "reasoning"})
REASONING_MODES: tuple[ReasoningMode, ...] = ("inline", "separate", "hidden")


def choose_reasoning(scope: Scope) -> ReasoningMode | None:
    """The request's own reasoning mode (`?reasoning=` wins over `X-Reasoning-Mode`), or None: the
    deployment default. A value that is no mode is refused wherever it was given."""
    asked = [query_params(scope, QUERY_PARAMS).get("reasoning"), header(scope, b"x-reasoning-mode")]
    for value in asked:
        if value is not None and value not in REASONING_MODES:
            raise BadRequest(f"Unknown reasoning mode '{value[:40]}'; use 'inline', 'separate' or 'hidden'")
    chosen = next((value for value in asked if value is not None), None)
    return next((mode for mode in REASONING_MODES if mode == chosen), None)


def choose_shape(scope: Scope, default: str) -> workers.Shape:
    """`?shape=` wins over `X-Response-Shape`, which wins over the deployment default; a value that is
    neither shape is refused wherever it was given."""
    asked = [
        query_params(scope, QUERY_PARAMS).get("shape"),
        header(scope, b"x-response-shape"),
    ]
    for value in asked:
        if value is not None and value not in SHAPES:
            raise BadRequest(f"Unknown response shape '{value[:40]}'; use 'workers' or 'choices'")
    chosen = next((value for value in asked if value is not None), default)
    return "choices" if chosen == "choices" else "workers"


class ModelSlugEndpoint:
    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            if error.status == 499:
                raise
            status, body, headers = render_workers_error(error)
            await send_json(send, status, body, headers)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        authenticate(state.keys, header(scope, b"authorization"))
        slug = scope["path_params"]["slug"]
        entry = state.table.entries.get(slug)
        if entry is None:
            raise NotFound(f"No such model '{slug[:80]}'", {"models": sorted(state.table.entries)})
        require_json(scope)
        body = await read_body(scope, receive, state.settings.max_body_bytes)
        request = workers.parse_request(validate_body(decode_json(body)), slug)
        shape = choose_shape(scope, state.settings.response_shape)
        request = dataclasses.replace(request, reasoning=choose_reasoning(scope))
        request_id = request_id_of(scope)
        async with DisconnectGuard(receive):
            events = with_deadline(state.gateway.events(request, entry), state.settings.request_deadline)
            if request.stream:
                encoder = (
                    workers.ChoicesStreamEncoder(slug, request_id)
                    if shape == "choices"
                    else workers.WorkersStreamEncoder()
                )
                scope[STATUS_KEY] = await respond_stream(
                    send,
                    events,
                    encoder.encode,
                    render_workers_error,
                    workers.error_event,
                    state.settings.keepalive_interval,
                    request_id,
                )
                return
            completion = await aggregate(events)
            answer = orjson.dumps(workers.render_completion(completion, shape, slug, request_id))
            await send_json(send, 200, answer)
