"""Where each surface is served: the Cloudflare REST, OpenAI and Anthropic paths (`/{slug}` is the app's own,
last, so that these fixed paths win)."""

from __future__ import annotations

from starlette.routing import Route

from worker.state import AppState
from worker.surfaces.anthropic import AnthropicDialect
from worker.surfaces.cloudflare import CloudflareRunDialect
from worker.surfaces.endpoint import DialectEndpoint
from worker.surfaces.openai import ModelsEndpoint, OpenAIChatDialect
from worker.surfaces.responses import ResponsesDialect, StoredResponseEndpoint


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
        Route("/v1/responses", DialectEndpoint(state, ResponsesDialect()), methods=["POST"]),
        Route("/v1/responses/{response_id}", StoredResponseEndpoint(state), methods=["GET"]),
    ]
