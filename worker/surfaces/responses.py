"""The OpenAI Responses API: `POST /v1/responses`, and its stored responses (`GET`/`DELETE
/v1/responses/{id}`, `GET /v1/responses/{id}/input_items`: `worker.surfaces.stored`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import orjson

from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError
from worker.core.identity import Identity
from worker.core.ir import Event, UsageEvent
from worker.dialects import openai_chat, openai_responses
from worker.dialects.openai_responses import ResponsesCall
from worker.dialects.openai_responses_stream import ResponsesStreamEncoder
from worker.state import AppState
from worker.surfaces.endpoint import Call, identify
from worker.surfaces.openai import OpenAIChatDialect
from worker.surfaces.stored import ResponseNotFound, StoredResponses, input_items_page
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import Receive, Scope, Send, send_json


def stored_for(state: AppState, identity: Identity) -> StoredResponses | None:
    if state.store is None:
        return None
    settings = state.settings
    return StoredResponses(state.store, identity.key_id, settings.responses_ttl, settings.responses_max_bytes)


class ResponsesDialect(OpenAIChatDialect):
    """OpenAI's keys, statuses and error bodies (as chat completions); its own body and stream."""

    surface = "responses"

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        call = openai_responses.parse_request(body, state.table, can_store=state.store is not None)
        if not call.store and body.get("previous_response_id") is None:
            return answer(call, None, ())

        async def prepare(identity: Identity) -> Call:
            stored = stored_for(state, identity)
            assert stored is not None  # parse_request refuses both without a store
            previous = body.get("previous_response_id")
            history: list[dict[str, Any]] = []
            made = call
            if previous is not None:
                history = await stored.conversation(str(previous))
                made = openai_responses.parse_request(body, state.table, True, history)
            return answer(made, stored if made.store else None, history)

        return replace(answer(call, None, ()), prepare=prepare)


def answer(call: ResponsesCall, stored: StoredResponses | None, history: Sequence[Mapping[str, Any]]) -> Call:
    """The call's rendering; with `stored`, the response is stored before it is answered."""
    streams: list[ResponsesStreamEncoder] = []  # this request's one stream, once it starts

    def render(completion: Completion, request_id: str) -> bytes:
        return orjson.dumps(openai_responses.render_response(completion, call, request_id))

    def encoder(request_id: str) -> Callable[[Event], bytes]:
        streams.append(ResponsesStreamEncoder(call, request_id))
        return streams[-1].encode

    def error_event(error: GatewayError) -> bytes:
        return streams[-1].error_event(error)

    made = Call(call.request, call.entry, render, encoder, call.ignored, error_event=error_event)
    if stored is None:
        return made

    async def settle(completion: Completion, request_id: str) -> bytes:
        response = openai_responses.render_response(completion, call, request_id)
        response["store"] = await stored.keep(response, call, history)
        return orjson.dumps(response)

    async def stored_at_the_end(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
        # The last event (usage) ends the stream with `response.completed`: the response is stored first.
        async for event in events:
            if type(event) is UsageEvent and streams:
                response = streams[-1].settle(event)
                response["store"] = await stored.keep(response, call, history)
            yield event

    wrap = stored_at_the_end if call.request.stream else None
    return replace(made, settle=settle, wrap=wrap)


class StoredResponseEndpoint:
    """`GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items` (the key's own only)."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response_id = str(scope.get("path_params", {}).get("response_id", ""))[:80]
        try:
            identity = await identify(self.state, ResponsesDialect(), scope)
            stored = stored_for(self.state, identity)
            if stored is None:
                raise ResponseNotFound(
                    f"No response with id '{response_id}' found: this gateway does not store responses "
                    '(it runs without a state store; every answer says "store": false)',
                    {"param": "response_id"},
                )
            body = await self._answer(scope, stored, response_id)
            scope[STATUS_KEY] = 200
            await send_json(send, 200, orjson.dumps(body))
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            body = openai_chat.error_body(error)
            if isinstance(error, ResponseNotFound):
                body["error"]["code"] = error.code
            await send_json(send, error.status, orjson.dumps(body))

    async def _answer(self, scope: Scope, stored: StoredResponses, response_id: str) -> dict[str, Any]:
        if scope["method"] == "DELETE":
            await stored.delete(response_id)
            return {"id": response_id, "object": "response", "deleted": True}
        document = await stored.found(response_id)
        if scope["path"].endswith("/input_items"):
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            return input_items_page(document["input"], query)
        response: dict[str, Any] = document["response"]
        return response
