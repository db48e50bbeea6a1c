"""The OpenAI Responses API: `POST /v1/responses`, and `GET /v1/responses/{id}` answering that
responses are not kept (the gateway has no response store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError, NotFound
from worker.core.ir import Event
from worker.dialects import openai_chat, openai_responses
from worker.dialects.openai_responses_stream import ResponsesStreamEncoder
from worker.state import AppState
from worker.surfaces.endpoint import Call, bearer_authenticate
from worker.surfaces.openai import OpenAIChatDialect
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import Receive, Scope, Send, send_json


class ResponsesDialect(OpenAIChatDialect):
    """OpenAI's keys, statuses and error bodies (as chat completions); its own body and stream."""

    surface = "responses"

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        call = openai_responses.parse_request(body, state.table)
        streams: list[ResponsesStreamEncoder] = []  # this request's one stream, once it starts

        def render(completion: Completion, request_id: str) -> bytes:
            return orjson.dumps(openai_responses.render_response(completion, call, request_id))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            streams.append(ResponsesStreamEncoder(call, request_id))
            return streams[-1].encode

        def error_event(error: GatewayError) -> bytes:
            return streams[-1].error_event(error)

        return Call(call.request, call.entry, render, encoder, call.ignored, error_event=error_event)


class StoredResponseEndpoint:
    """`GET /v1/responses/{id}`: always a 404 in OpenAI's shape, saying why (nothing is stored)."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response_id = str(scope.get("path_params", {}).get("response_id", ""))[:80]
        try:
            bearer_authenticate(self.state.keys, scope)
            raise NotFound(
                f"No response with id '{response_id}' found: this gateway does not store responses "
                '(every answer says "store": false)',
                {"param": "response_id"},
            )
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            body = openai_chat.error_body(error)
            if isinstance(error, NotFound):
                body["error"]["code"] = "response_not_found"
            await send_json(send, error.status, orjson.dumps(body))
