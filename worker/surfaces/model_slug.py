"""`POST /{modelSlug}`: the primary contract (Workers AI input, `{response}` or `choices` output).

The answer shape is the deployment's `RESPONSE_SHAPE` unless the request asks for another with
`?shape=choices|workers` or the header `X-Response-Shape`; the reasoning mode is the deployment's
`REASONING_MODE` unless `?reasoning=` or `X-Reasoning-Mode` asks for another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast, get_args

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


def _asked(scope: Scope, param: str, header_name: bytes, allowed: tuple[str, ...], what: str) -> str | None:
    """`?param=` if given, else the header; a value that is not `allowed` is refused wherever it was
    given (both are looked at, so a bad header is refused beside a good query value too). No list or
    generator per call: every request on this route asks twice."""
    query = query_params(scope, QUERY_PARAMS).get(param) if scope.get("query_string") else None
    given = header(scope, header_name)
    for value in (query, given):
        if value is not None and value not in allowed:
            raise BadRequest(f"Unknown {what} '{value[:40]}'; use {spoken(allowed)}")
    return query if query is not None else given


def choose_reasoning(scope: Scope) -> ReasoningMode | None:
    """The request's own reasoning mode (`?reasoning=` wins over `X-Reasoning-Mode`), or None: the
    deployment default. A value that is no mode is refused wherever it was given."""
    return cast(
        "ReasoningMode | None",
        _asked(scope, "reasoning", b"x-reasoning-mode", REASONING_MODES, "reasoning mode"),
    )


def choose_shape(scope: Scope, default: ResponseShape) -> ResponseShape:
    """`?shape=` wins over `X-Response-Shape`, which wins over the deployment default; a value that is
    neither shape is refused wherever it was given."""
    chosen = _asked(scope, "shape", b"x-response-shape", SHAPES, "response shape") or default
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
