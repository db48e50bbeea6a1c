"""OpenAI chat completions (`/v1/chat/completions`, DeepInfra's `/v1/openai/chat/completions`, Cloudflare's
`.../ai/v1/chat/completions`); `GET /v1/models` is `worker.surfaces.models`."""

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
from worker.web.asgi import Scope


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
