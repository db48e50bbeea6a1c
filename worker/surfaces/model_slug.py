"""`POST /{modelSlug}`: the primary contract (Workers AI input, `{response}` or `choices` output).

The answer shape is the deployment's `RESPONSE_SHAPE` unless the request asks for another with
`?shape=choices|workers` or the header `X-Response-Shape`; the reasoning mode is the deployment's
`REASONING_MODE` unless `?reasoning=` or `X-Reasoning-Mode` asks for another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import orjson

from worker.config.models import ModelEntry
from worker.config.settings import spoken
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, GatewayError, NotFound
from worker.core.ir import Event, ReasoningMode, ResponseShape
from worker.dialects import workers, workers_stream
from worker.dialects.validation import validate_body
from worker.state import AppState
from worker.surfaces.endpoint import Call, DialectEndpoint, RenderedError, bearer_authenticate, error_headers
from worker.web.asgi import (
    Scope,
    header,
    query_params,
)


def render_workers_error(error: GatewayError) -> RenderedError:
    return error.status, orjson.dumps(workers.render_error(error)), error_headers(error)


QUERY_PARAMS = frozenset({"shape", "reasoning"})
REASONING_MODES: tuple[ReasoningMode, ...] = get_args(ReasoningMode)
SHAPES: tuple[ResponseShape, ...] = get_args(ResponseShape)


def choose_reasoning(scope: Scope) -> ReasoningMode | None:
    """The request's own reasoning mode (`?reasoning=` wins over `X-Reasoning-Mode`), or None: the
    deployment default. A value that is no mode is refused wherever it was given."""
    asked = [query_params(scope, QUERY_PARAMS).get("reasoning"), header(scope, b"x-reasoning-mode")]
    for value in asked:
        if value is not None and value not in REASONING_MODES:
            raise BadRequest(f"Unknown reasoning mode '{value[:40]}'; use {spoken(REASONING_MODES)}")
    chosen = next((value for value in asked if value is not None), None)
    return next((mode for mode in REASONING_MODES if mode == chosen), None)


def choose_shape(scope: Scope, default: ResponseShape) -> ResponseShape:
    """`?shape=` wins over `X-Response-Shape`, which wins over the deployment default; a value that is
    neither shape is refused wherever it was given."""
    asked = [
        query_params(scope, QUERY_PARAMS).get("shape"),
        header(scope, b"x-response-shape"),
    ]
    for value in asked:
        if value is not None and value not in SHAPES:
            raise BadRequest(f"Unknown response shape '{value[:40]}'; use {spoken(SHAPES)}")
    chosen = next((value for value in asked if value is not None), default)
    return "choices" if chosen == "choices" else "workers"


class ModelSlugDialect:
    """The primary contract: Workers AI input, `{response}` or `choices` output, `{error, detail}` errors."""

    surface = "workers"

    authenticate = staticmethod(bearer_authenticate)
    render_error = staticmethod(render_workers_error)
    error_event = staticmethod(workers_stream.error_event)

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        slug = scope["path_params"]["slug"]
        entry = state.table.entries.get(slug)
        if entry is None:
            raise NotFound(f"No such model '{slug[:80]}'", {"models": sorted(state.table.entries)})
        return entry

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        assert located is not None
        slug = located.slug
        checked = workers.with_model_default(validate_body(body), body, located.default_max_tokens)
        workers.check_embedded_schemas(checked, tools=False)
        shape = choose_shape(scope, state.settings.response_shape)
        request = workers.parse_request(checked, slug, choose_reasoning(scope))

        def render(completion: Completion, request_id: str) -> bytes:
            return orjson.dumps(workers.render_completion(completion, shape, slug, request_id))

        def encoder(request_id: str) -> Callable[[Event], bytes]:
            if shape == "choices":
                return workers_stream.ChoicesStreamEncoder(slug, request_id).encode
            return workers_stream.WorkersStreamEncoder().encode

        return Call(request, located, render, encoder, workers.ignored_fields(body))


class ModelSlugEndpoint(DialectEndpoint):
    def __init__(self, state: AppState) -> None:
        super().__init__(state, ModelSlugDialect())
