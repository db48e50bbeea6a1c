"""The ASGI application: routes, middleware and the process's lifetime.

`create_app()` is a factory (uvicorn `--factory`), so every worker process builds its own state, and
its own upstream client, at start-up, and closes them at shut-down.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from worker.config.settings import Settings, SettingsError, load_settings
from worker.console.cors import CorsMiddleware
from worker.console.routes import console_routes
from worker.core.errors import Unauthorized
from worker.observe import hooks
from worker.observe.jsonlog import JsonFormatter
from worker.observe.prices import Prices
from worker.state import AppState, build_state
from worker.store.lifetime import background
from worker.surfaces.admin import admin_routes
from worker.surfaces.endpoint import DialectEndpoint
from worker.surfaces.model_slug import ModelSlugEndpoint
from worker.surfaces.openapi import openapi_document
from worker.surfaces.routes import surface_not_found, surface_routes
from worker.web.access_log import AccessLogMiddleware, record_of
from worker.web.auth import KeyRing, authenticate
from worker.web.fastpath import SlugFastPath
from worker.web.logformat import LineFormatter

if TYPE_CHECKING:
    from worker.observe.metrics import Metrics
    from worker.observe.tracing import Tracing

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def configure_logging(level: str, log_format: str = "text", prices: Prices | None = None) -> None:
    """Give the `worker` loggers one handler of their own, whatever the server did to the root logger.

    With `LOG_FORMAT=json` uvicorn's own loggers write through the same JSON formatter, so that every
    line of the process is one JSON object (`worker.observe.jsonlog`)."""
    formatter: logging.Formatter = JsonFormatter(prices) if log_format == "json" else LineFormatter()
    logger = logging.getLogger("worker")
    logger.setLevel(level.upper())
    ours = [h for h in logger.handlers if getattr(h, "_worker_handler", False)]
    if ours:
        ours[0].setFormatter(formatter)
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        handler._worker_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    if log_format == "json":
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            for server_handler in logging.getLogger(name).handlers:
                server_handler.setFormatter(formatter)


def create_app(settings: Settings | None = None, ai_binding: Any = None) -> AccessLogMiddleware:
    """The gateway for `settings`, or for the process's configuration when called without them.

    Without settings the caller is a server (`uvicorn --factory worker.app:create_app`, or the one
    `qwq-gateway` starts), which would print a configuration mistake as a traceback: instead the process
    ends with the mistake's one-line message and status 2, as `qwq-gateway` does. With settings the caller
    is a program, which gets the `SettingsError` itself. `ai_binding`: a Cloudflare Worker's `env.AI`
    (`worker.entry`).
    """
    from_server = settings is None
    try:
        settings = settings or load_settings()
        configure_logging(settings.log_level, settings.log_format)
        state: AppState = build_state(settings, ai_binding)
        configure_logging(settings.log_level, settings.log_format, Prices(state.table))
        observers = observe(state)
    except SettingsError as exc:
        if not from_server:
            raise
        print(f"qwq-gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    spec = orjson.dumps(openapi_document(state.table))
    metrics, tracing = observers
    metrics_keys = KeyRing([state.settings.metrics_key]) if state.settings.metrics_key else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything built so far (modules, compiled schemas, the model table) lives as long as the
        # process: moved out of the collector's sight, a full collection no longer walks ~55,000
        # objects (~30 ms each time, the p99 of a loaded gateway under scripts/bench.sh).
        gc.collect()
        gc.freeze()
        # SIGTERM gives open requests SHUTDOWN_GRACE seconds, then ends them (worker/web/shutdown.py).
        state.shutdown.install(state.settings.shutdown_grace)
        try:
            async with background(state):
                yield
        finally:
            await state.aclose()
            if tracing is not None:
                tracing.shutdown()
            if metrics is not None:
                from worker.observe.metrics import mark_process_dead

                mark_process_dead()

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        models = state.router.health()
        ready = bool(models) and all(model["ready"] for model in models.values())
        return _json({"status": "ready" if ready else "unavailable", "models": models}, 200 if ready else 503)

    async def metrics_page(request: Request) -> Response:
        if metrics is None:
            return await not_found(request, LookupError())
        if metrics_keys is not None:
            try:
                authenticate(metrics_keys, request.headers.get("authorization"))
            except Unauthorized as exc:
                response = _json({"error": "Unauthorized", "detail": exc.detail}, 401)
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        from worker.observe.metrics import CONTENT_TYPE

        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        surface = surface_not_found(request.scope)  # under `/v1/` or `/client/v4/`: that API's shape
        if surface is not None:
            return Response(surface, status_code=404, media_type="application/json")
        return _json(
            {"error": "Not found", "detail": f"No route for {request.method} {request.url.path}"}, 404
        )

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        response = _json(
            {"error": "Method not allowed", "detail": f"{request.method} is not served here"}, 405
        )
        allow = getattr(exc, "headers", None) or {}
        if "Allow" in allow:  # RFC 9110: a 405 names the methods that are served
            response.headers["Allow"] = allow["Allow"]
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        return _json({"error": "Unexpected failure"}, 500)

    def get_only(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """Fixed GET routes also own their other methods: without this a POST /healthz would be taken
        for a model slug and answer 404 instead of 405."""

        async def handler(request: Request) -> Response:
            if request.method in ("GET", "HEAD"):
                return await endpoint(request)
            response = _json(
                {"error": "Method not allowed", "detail": f"{request.method} is not served here"}, 405
            )
            response.headers["Allow"] = "GET, HEAD"
            return response

        return handler

    slug_endpoint = ModelSlugEndpoint(state)
    app = Starlette(
        exception_handlers={404: not_found, 405: method_not_allowed, Exception: server_error},
        routes=[
            Route("/openapi.json", get_only(openapi), methods=ALL_METHODS),
            Route("/healthz", get_only(healthz), methods=ALL_METHODS),
            Route("/readyz", get_only(readyz), methods=ALL_METHODS),
            Route("/metrics", get_only(metrics_page), methods=ALL_METHODS),
            *admin_routes(state),
            *surface_routes(state),
            *console_routes(state),
            Route("/{slug}", slug_endpoint, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.app_state = state
    # Starlette would answer `POST /qwq-32b/` with a 307 to a URL built from the Host header, so a
    # forged Host sends the client elsewhere. SlugFastPath serves one trailing slash directly instead.
    app.router.redirect_slashes = False
    # `POST /{slug}` skips the router (worker/web/fastpath.py); every other route's path stays Starlette's.
    other_paths = [
        getattr(r, "path", "") for r in app.routes if getattr(r, "endpoint", None) is not slug_endpoint
    ]
    # So do `POST`s to fixed paths served by a pure-ASGI dialect endpoint (the OpenAI and Anthropic routes).
    fixed = {
        r.path: r.endpoint
        for r in app.routes
        if isinstance(r, Route)
        and isinstance(r.endpoint, DialectEndpoint)
        and "{" not in r.path
        and "POST" in (r.methods or ())
    }
    inner: Any = SlugFastPath(app, slug_endpoint, other_paths, fixed)
    if tracing is not None:
        inner = tracing.middleware(inner, record_of)
    if settings.cors_origins:  # not installed at all by default: no cost, and no cross-origin access
        inner = CorsMiddleware(inner, settings.cors_origins)
    return AccessLogMiddleware(inner, state.sinks)


def observe(state: AppState) -> tuple[Metrics | None, Tracing | None]:
    """Metrics and traces, as the settings ask: each hears every finished request (a record sink) and
    every upstream attempt (a router observer). Imported only when on: off costs nothing."""
    settings = state.settings
    metrics: Metrics | None = None
    if settings.metrics:
        try:
            from worker.observe.metrics import Metrics
        except ImportError:  # a bundle without prometheus-client (the Cloudflare Worker's): serve, uncounted
            logging.getLogger("worker").warning("METRICS is on but prometheus-client is missing: no metrics")
        else:
            metrics = Metrics(state.table, state.router.health, per_key=settings.metrics_key_ids)
            state.sinks.append(metrics.sink)
            state.router.observers.append(metrics)
    hooks.install(metrics)
    tracing: Tracing | None = None
    if settings.otel_exporter_otlp_endpoint:
        try:
            from worker.observe.tracing import Tracing
        except ImportError as exc:
            raise SettingsError(
                "setting OTEL_EXPORTER_OTLP_ENDPOINT: tracing needs OpenTelemetry; "
                'install it with pip install "qwq-gateway[otel]"'
            ) from exc
        tracing = Tracing(settings.otel_exporter_otlp_endpoint, settings.otel_service_name)
        state.router.observers.append(tracing)
    return metrics, tracing
