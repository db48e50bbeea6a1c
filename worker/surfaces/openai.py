"""OpenAI chat completions (`/v1/chat/completions`, DeepInfra's `/v1/openai/chat/completions`, Cloudflare's
`.../ai/v1/chat/completions`) and `GET /v1/models` (and its aliases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from worker.answer.stops import StopScanner
from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError
from worker.core.ir import Event
from worker.dialects import openai_chat
from worker.state import AppState
from worker.surfaces.endpoint import Call, RenderedError, bearer_authenticate, error_headers
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import (
    Receive,
    Scope,
    Send,
    send_json,
)


class OpenAIChatDialect:
    surface = "openai"
    authenticate = staticmethod(bearer_authenticate)
    error_event = staticmethod(openai_chat.error_event)

    def render_error(self, error: GatewayError) -> RenderedError:
        body = orjson.dumps(openai_chat.error_body(error))
        return openai_chat.error_status(error), body, error_headers(error)

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        return None

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        chat = openai_chat.parse_request(body, state.table)
        scanner = StopScanner(chat.request.params.stop)

        def render(completion: Completion, request_id: str) -> bytes:
            return orjson.dumps(openai_chat.render_completion(completion, chat.model, request_id))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            return openai_chat.ChatStreamEncoder(chat.model, request_id, chat.include_usage).encode

        return Call(
            chat.request,
            chat.entry,
            render,
            encoder,
            chat.ignored,
            wrap=(lambda events: scanner.apply(events, chat.request)) if scanner.active else None,
        )


class ModelsEndpoint:
    """`GET /v1/models`: the model table in OpenAI's list shape (slugs as ids)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        data = [
            {"id": slug, "object": "model", "created": 0, "owned_by": "qwq-gateway"}
            for slug in sorted(state.table.entries)
        ]
        self._body = orjson.dumps({"object": "list", "data": data})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            bearer_authenticate(self.state.keys, scope)
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            body = openai_chat.error_body(error)
            await send_json(send, error.status, orjson.dumps(body))
            return
        await send_json(send, 200, self._body)
