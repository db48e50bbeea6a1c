"""Cloudflare REST `POST /client/v4/accounts/{account_id}/ai/run/{model}`: Workers AI input and answer, in
Cloudflare's envelopes. `account_id` is accepted whatever its value: this gateway serves one account, its own,
and a key from `API_KEYS` is what grants access (so the official SDK works with any account id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from worker.config.models import ModelEntry
from worker.core.aggregate import Completion
from worker.core.errors import GatewayError, NotFound
from worker.core.ir import Event
from worker.dialects import cloudflare, workers, workers_stream
from worker.dialects.validation import validate_body
from worker.state import AppState
from worker.surfaces.endpoint import Call, RenderedError, bearer_authenticate, error_headers
from worker.web.asgi import (
    Scope,
)


class CloudflareRunDialect:
    surface = "cloudflare"
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
        checked = workers.with_model_default(validate_body(body), body, located.default_max_tokens)
        workers.check_embedded_schemas(checked)
        request = workers.parse_request(checked, slug)

        def render(completion: Completion, request_id: str) -> bytes:
            result = workers.render_completion(completion, "workers", slug, request_id)
            return orjson.dumps(cloudflare.envelope(result))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            return workers_stream.WorkersStreamEncoder().encode

        return Call(request, located, render, encoder, workers.ignored_fields(body))
