"""Anthropic `POST /v1/messages`, authenticated by `x-api-key` or a bearer token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from worker.answer.stops import StopScanner
from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError, Unauthorized
from worker.core.ir import Event
from worker.dialects import anthropic
from worker.state import AppState
from worker.surfaces.endpoint import Call, RenderedError, error_headers
from worker.web.asgi import Scope
from worker.web.auth import KeyRing, authenticate, credential


def anthropic_authenticate(keys: KeyRing, scope: Scope) -> None:
    """Anthropic's SDK sends `x-api-key`; a bearer token (its `auth_token`) is accepted as well, and
    either one being valid is enough."""
    api_key = credential(scope, b"x-api-key")
    if keys.open or (api_key is not None and keys.check(api_key.strip())):
        return
    authorization = credential(scope, b"authorization")
    if api_key is not None and authorization is None:
        raise Unauthorized(detail="The API key is not valid")
    if authorization is None:
        raise Unauthorized(
            detail="Send the header 'x-api-key: <api_key>' or 'Authorization: Bearer <api_key>'"
        )
    authenticate(keys, authorization)


class AnthropicDialect:
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
