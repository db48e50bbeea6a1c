"""Cloudflare Python Worker entry point (`main` in wrangler.toml).

The runtime hands each request to the same ASGI app uvicorn serves. The Worker's `env` (its `[vars]`
and secrets) reaches the app as the settings, read once per isolate. Differences of that runtime:
only `text/event-stream` answers stream, lifespan runs per request, and client disconnects are not
reported, so there a 499 is never logged.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from workers import WorkerEntrypoint  # type: ignore[import-not-found]

if "worker" not in sys.modules:
    # Wrangler bundles the folder of `main` as the module root, so inside a Worker this folder's modules
    # are top-level (`app`, `upstreams.base`). An alias package makes `worker.app` find them again.
    _package = types.ModuleType("worker")
    _package.__path__ = [os.path.dirname(os.path.abspath(__file__))]
    sys.modules["worker"] = _package

from worker.app import create_app
from worker.config.settings import Settings, load_settings

_app: Any = None


def _settings_from_env(env: Any) -> Settings:
    names = [name.upper() for name in Settings.__dataclass_fields__]
    values = {name: str(getattr(env, name)) for name in names if hasattr(env, name)}
    return load_settings(values)


class Default(WorkerEntrypoint):  # type: ignore[misc]
    async def fetch(self, request: Any) -> Any:
        global _app
        import asgi  # type: ignore[import-not-found]  # provided by the Python Workers runtime

        if _app is None:
            _app = create_app(_settings_from_env(self.env))
        return await asgi.fetch(_app, request.js_object, self.env, self.ctx)
