"""`GET /v1/models` and `GET /v1/models/{id}` (and their DeepInfra and Cloudflare aliases): the model
table, in OpenAI's shape, or in Anthropic's when the request is an Anthropic client's.

The two APIs share the path, so the request's headers decide: Anthropic's SDKs (and Claude Code)
always send `anthropic-version`, and authenticate with `x-api-key`; OpenAI's never send either.
The bodies are built once, when the table is known, not per request.
"""

from __future__ import annotations

from typing import Any

import orjson

from worker.core.errors import GatewayError, NotFound
from worker.dialects import anthropic, openai_chat
from worker.state import AppState
from worker.surfaces.anthropic import anthropic_authenticate, is_anthropic
from worker.surfaces.endpoint import bearer_authenticate
from worker.web.access_log import STATUS_KEY
from worker.web.asgi import Receive, Scope, Send, send_json

EPOCH = "1970-01-01T00:00:00Z"  # Anthropic's `created_at` is RFC 3339; OpenAI's `created` is 0 here too


def openai_model(slug: str) -> dict[str, Any]:
    return {"id": slug, "object": "model", "created": 0, "owned_by": "qwq-gateway"}


def anthropic_model(slug: str) -> dict[str, Any]:
    return {"type": "model", "id": slug, "display_name": slug, "created_at": EPOCH}


class ModelsEndpoint:
    """The list (no `model_id` in the path) or one model (`model_id`, any name the table resolves:
    slug, upstream model name or Cloudflare id; the answer names it by its slug)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        slugs = sorted(state.table.entries)
        self._openai_list = orjson.dumps({"object": "list", "data": [openai_model(s) for s in slugs]})
        self._anthropic_list = orjson.dumps(
            {
                "data": [anthropic_model(s) for s in slugs],
                "has_more": False,
                "first_id": slugs[0] if slugs else None,
                "last_id": slugs[-1] if slugs else None,
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        native = is_anthropic(scope)
        try:
            if native:
                anthropic_authenticate(self.state.keys, scope)
            else:
                bearer_authenticate(self.state.keys, scope)
            body = self._answer(scope.get("path_params", {}).get("model_id"), native)
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            shaped = anthropic.error_body(error) if native else openai_chat.error_body(error)
            await send_json(send, error.status, orjson.dumps(shaped))
            return
        await send_json(send, 200, body)

    def _answer(self, model_id: str | None, native: bool) -> bytes:
        if model_id is None:
            return self._anthropic_list if native else self._openai_list
        entry = self.state.table.resolve(model_id)
        if entry is None:
            raise NotFound(f"model: {model_id[:80]}")
        return orjson.dumps(anthropic_model(entry.slug) if native else openai_model(entry.slug))
