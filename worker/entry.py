"""Cloudflare Python Worker entry point (the bundle's `main` imports `Default` from here).

The runtime hands each request to the same ASGI app uvicorn serves (`asgi.fetch`). What differs:

- An isolate serves many requests, and the runtime runs the ASGI lifespan around every one of them. The
  app and its state (settings, model table, compiled schemas, breakers, the upstream adapters) are built
  once per isolate, on its first request, and the lifespan is answered here without reaching the app:
  its shut-down would close the upstreams after every request.
- The settings are the Worker's `env` (its `[vars]` and secrets), read once with the app.
- With an `[ai]` binding (`env.AI`), a model without an upstream of its own goes to the binding
  (`worker.upstreams.workers_binding`) instead of the simulator.
- Only `text/event-stream` answers stream, and client disconnects are not reported, so no 499 is logged.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from workers import WorkerEntrypoint  # type: ignore[import-not-found]  # the Python Workers runtime

from worker.app import create_app
from worker.config.settings import Settings, load_settings
from worker.simulator.plumbing import answer_lifespan

NO_WRANGLER_TOML = Path("/nonexistent/wrangler.toml")  # the runtime has `env`, never a file to read


def settings_from_env(env: Any) -> Settings:
    """Every setting the Worker's `env` holds, as the runtime gives it (strings for secrets; numbers and
    booleans for `[vars]`, which `load_settings` converts like the environment's strings)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        name = field.name.upper()
        value = getattr(env, name, None)
        if value is not None:
            values[name] = value.to_py() if hasattr(value, "to_py") else value
    return load_settings(values, wrangler_toml=NO_WRANGLER_TOML)


class IsolateApp:
    """The gateway built once per isolate: lifespan answered here, every request passed to the app."""

    def __init__(self, env: Any) -> None:
        self.app = create_app(settings_from_env(env), ai_binding=getattr(env, "AI", None))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        await self.app(scope, receive, send)


_isolate: IsolateApp | None = None


def isolate_app(env: Any) -> IsolateApp:
    """This isolate's app, built on its first request (a module-level global lives as long as the
    isolate; `env` is the same for all its requests)."""
    global _isolate
    if _isolate is None:
        _isolate = IsolateApp(env)
    return _isolate


class Default(WorkerEntrypoint):  # type: ignore[misc]
    async def fetch(self, request: Any) -> Any:
        import asgi  # type: ignore[import-not-found]  # provided by the Python Workers runtime

        return await asgi.fetch(isolate_app(self.env), request.js_object, self.env, self.ctx)
