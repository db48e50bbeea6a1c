"""The surfaces beyond `/:modelSlug`: each one a dialect plugged into the shared `DialectEndpoint`.

- Cloudflare REST `.../ai/run/{model}`: Workers AI input and answer, in Cloudflare's envelopes.
  `account_id` is accepted whatever its value: this gateway serves one account, its own, and a key
  from `API_KEYS` is what grants access (so the official SDK works with any account id).
- OpenAI chat completions (`/v1/chat/completions`, DeepInfra's `/v1/openai/chat/completions`,
  Cloudflare's `.../ai/v1/chat/completions`) and `GET /v1/models` (and its aliases).
- Anthropic `POST /v1/messages`, authenticated by `x-api-key` or a bearer token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.routing import Route

from worker.answer.stops import StopScanner
from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, GatewayError, NotFound, Unauthorized
from worker.core.ir import Event
from worker.dialects import anthropic, cloudflare, openai_chat, workers
from worker.dialects.schemas import embedded_schema_violations, summary
from worker.dialects.validation import validate_body
from worker.state import AppState
from worker.surfaces.endpoint import Call, DialectEndpoint, RenderedError, bearer_authenticate, error_headers
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import Receive, Scope, Send, header, send_json
from worker.web.auth import KeyRing, authenticate


def workers_embedded_schemas(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The JSON schemas in a Workers AI body: `guided_json` and each tool's parameters (flat or nested)."""
    found: list[tuple[str, Any]] = []
    if "guided_json" in body:
        found.append(("/guided_json", body["guided_json"]))
    for i, tool in enumerate(body.get("tools", ())):
        if "parameters" in tool:
            found.append((f"/tools/{i}/parameters", tool["parameters"]))
        elif isinstance(tool.get("function"), dict) and "parameters" in tool["function"]:
            found.append((f"/tools/{i}/function/parameters", tool["function"]["parameters"]))
    return found


class CloudflareRunDialect:
    authenticate = staticmethod(bearer_authenticate)
    error_event = staticmethod(cloudflare.error_event)

    def render_error(self, error: GatewayError) -> RenderedError:
        status, body = cloudflare.failure(error)
        return status, orjson.dumps(body), error_headers(error)

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        name = scope["path_params"]["model"]
        entry = state.table.resolve(name)
        if entry is None:
            raise NotFound(f"No such model {name[:80]} or task")
        return entry

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        assert located is not None
        slug = located.slug
        checked = validate_body(body)
        violations = embedded_schema_violations(workers_embedded_schemas(checked))
        if violations:
            raise BadRequest(f"Invalid payload: {summary(violations)}", violations)
        request = workers.parse_request(checked, slug)

        def render(completion: Completion, request_id: str) -> bytes:
            result = workers.render_completion(completion, "workers", slug, request_id)
            return orjson.dumps(cloudflare.envelope(result))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            return workers.WorkersStreamEncoder().encode

        return Call(request, located, render, encoder)


class OpenAIChatDialect:
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


def anthropic_authenticate(keys: KeyRing, scope: Scope) -> None:
    """Anthropic's SDK sends `x-api-key`; a bearer token (its `auth_token`) is accepted as well, and
    either one being valid is enough."""
    api_key = header(scope, b"x-api-key")
    if keys.open or (api_key is not None and keys.check(api_key.strip())):
        return
    authorization = header(scope, b"authorization")
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


def surface_routes(state: AppState) -> list[Route]:
    """The Cloudflare REST, OpenAI and Anthropic surfaces (see `worker.surfaces.routes`); before `/{slug}`."""
    chat = DialectEndpoint(state, OpenAIChatDialect())
    models = ModelsEndpoint(state)
    accounts = "/client/v4/accounts/{account_id}/ai"
    return [
        Route(
            f"{accounts}/run/{{model:path}}", DialectEndpoint(state, CloudflareRunDialect()), methods=["POST"]
        ),
        Route(f"{accounts}/v1/chat/completions", chat, methods=["POST"]),
        Route(f"{accounts}/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/openai/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/openai/models", models, methods=["GET"]),
        Route("/v1/messages", DialectEndpoint(state, AnthropicDialect()), methods=["POST"]),
    ]
