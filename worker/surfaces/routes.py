"""Where each surface is served: the Cloudflare REST, OpenAI and Anthropic paths (`/{slug}` is the app's own,
last, so that these fixed paths win), and the 404 of a path under a surface that serves nothing there."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.routing import Route

from worker.core.errors import NotFound
from worker.dialects import anthropic
from worker.state import AppState
from worker.surfaces.anthropic import AnthropicDialect, CountTokensEndpoint, is_anthropic
from worker.surfaces.cloudflare import CloudflareRunDialect
from worker.surfaces.endpoint import DialectEndpoint
from worker.surfaces.models import ModelsEndpoint
from worker.surfaces.openai import OpenAIChatDialect
from worker.surfaces.responses import ResponsesDialect, StoredResponseEndpoint
from worker.web.asgi import Scope


def surface_routes(state: AppState) -> list[Route]:
    """The Cloudflare REST, OpenAI and Anthropic surfaces (see `worker.surfaces.routes`); before `/{slug}`."""
    chat = DialectEndpoint(state, OpenAIChatDialect())
    models = ModelsEndpoint(state)
    stored = StoredResponseEndpoint(state)
    accounts = "/client/v4/accounts/{account_id}/ai"
    return [
        Route(
            f"{accounts}/run/{{model:path}}", DialectEndpoint(state, CloudflareRunDialect()), methods=["POST"]
        ),
        Route(f"{accounts}/v1/chat/completions", chat, methods=["POST"]),
        Route(f"{accounts}/v1/models", models, methods=["GET"]),
        Route(f"{accounts}/v1/models/{{model_id:path}}", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/openai/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", models, methods=["GET"]),
        Route("/v1/openai/models", models, methods=["GET"]),
        Route("/v1/openai/models/{model_id:path}", models, methods=["GET"]),
        Route("/v1/messages", DialectEndpoint(state, AnthropicDialect()), methods=["POST"]),
        Route("/v1/messages/count_tokens", CountTokensEndpoint(state), methods=["POST"]),
        Route("/v1/responses", DialectEndpoint(state, ResponsesDialect()), methods=["POST"]),
        Route("/v1/responses/{response_id}", stored, methods=["GET", "DELETE"]),
        Route("/v1/responses/{response_id}/input_items", stored, methods=["GET"]),
    ]


def surface_not_found(scope: Scope) -> bytes | None:
    """The 404 body of a path no route serves, in the error shape of the surface whose prefix it is
    under (a client of that API can read it), or None outside every surface.

    `/client/v4/...` is Cloudflare's (its envelope, code 7000 as Cloudflare answers an unknown URI);
    `/v1/...` is Anthropic's when the request is an Anthropic client's, OpenAI's otherwise."""
    path: str = scope["path"]
    method: str = scope["method"]
    where = f"{method} {path[:200]}"
    if path.startswith("/client/v4/"):
        error: dict[str, Any] = {"code": 7000, "message": f"No route for that URI ({where})"}
        return orjson.dumps({"result": None, "success": False, "errors": [error], "messages": []})
    if not path.startswith("/v1/"):
        return None
    if is_anthropic(scope):
        return orjson.dumps(anthropic.error_body(NotFound(f"No route for {where}")))
    return orjson.dumps(
        {
            "error": {
                "message": f"Invalid URL ({where})",
                "type": "invalid_request_error",
                "param": None,
                "code": "unknown_url",
            }
        }
    )
