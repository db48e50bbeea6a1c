"""Anthropic `POST /v1/messages` and `POST /v1/messages/count_tokens`, authenticated by `x-api-key` or a
bearer token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from worker.answer.stops import StopScanner
from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError, Unauthorized
from worker.core.identity import ANONYMOUS, Identity
from worker.core.ir import Event
from worker.core.tokenizer import prompt_tokens_soon
from worker.dialects import anthropic
from worker.state import AppState
from worker.surfaces.endpoint import IGNORED_HEADER, Call, RenderedError, error_headers
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import (
    Receive,
    Scope,
    Send,
    decode_json,
    header,
    read_body,
    require_json,
    send_json,
)
from worker.web.auth import KeyRing, authenticate, credential


def is_anthropic(scope: Scope) -> bool:
    """Whether a request on a path both APIs share (`/v1/models`, unknown `/v1/...`) is an Anthropic
    client's: its SDKs always send `anthropic-version`, and `x-api-key` is Anthropic's alone."""
    return header(scope, b"anthropic-version") is not None or header(scope, b"x-api-key") is not None


def anthropic_authenticate(keys: KeyRing, scope: Scope) -> Identity:
    """Anthropic's SDK sends `x-api-key`; a bearer token (its `auth_token`) is accepted as well, and
    either one being valid is enough."""
    api_key = credential(scope, b"x-api-key")
    if keys.open:
        return ANONYMOUS
    if api_key is not None and (identity := keys.identify_quietly(api_key.strip())) is not None:
        return identity
    authorization = credential(scope, b"authorization")
    if api_key is not None and authorization is None:
        raise Unauthorized(detail="The API key is not valid")
    if authorization is None:
        raise Unauthorized(
            detail="Send the header 'x-api-key: <api_key>' or 'Authorization: Bearer <api_key>'"
        )
    return authenticate(keys, authorization)


class AnthropicDialect:
    surface = "anthropic"
    authenticate = staticmethod(anthropic_authenticate)
    error_event = staticmethod(anthropic.error_event)

    def render_error(self, error: GatewayError) -> RenderedError:
        return error.status, orjson.dumps(anthropic.error_body(error)), error_headers(error)

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        return None

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        call = anthropic.parse_request(body, state.table)
        scanner = StopScanner(call.request.params.stop)

        def render(completion: Completion, request_id: str) -> bytes:
            return orjson.dumps(anthropic.render_message(completion, call, request_id, scanner.matched))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            return anthropic.MessageStreamEncoder(call, request_id, lambda: scanner.matched).encode

        return Call(
            call.request,
            call.entry,
            render,
            encoder,
            call.ignored,
            wrap=(lambda events: scanner.apply(events, call.request)) if scanner.active else None,
        )


class CountTokensEndpoint:
    """`POST /v1/messages/count_tokens`: `{"input_tokens": N}` for a Messages body (without
    `max_tokens`), validated as `/v1/messages` validates it and counted by the gateway's own token
    counter (`worker.core.tokenizer`), so it agrees with the `input_tokens` the gateway reports."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        try:
            anthropic_authenticate(state.keys, scope)
            require_json(scope)
            body = await read_body(scope, receive, state.settings.max_body_bytes)
            call = anthropic.parse_request(decode_json(body), state.table, counting=True)
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            if error.status == 499:
                raise
            await send_json(
                send, error.status, orjson.dumps(anthropic.error_body(error)), error_headers(error)
            )
            return
        counted = await prompt_tokens_soon(call.request)  # a long prompt is counted off the event loop
        answer = orjson.dumps({"input_tokens": counted})
        ignored = [(IGNORED_HEADER, ", ".join(call.ignored).encode())] if call.ignored else []
        await send_json(send, 200, answer, ignored)
