"""The hot routes without the router: `POST /{slug}`, and `POST` to a fixed path whose endpoint is
pure ASGI (`/v1/chat/completions`, `/v1/messages`, ...), go straight to their endpoint.

Why: on every request Starlette's app walks its error and exception middlewares and matches the path
against each route's regex before reaching the endpoint, which is already pure ASGI and renders its own
errors. Profiled under the benchmark (docs/performance.md) that was ~12% of the gateway's CPU per
request. Everything else (other methods, other routes, paths with more than one segment, an app
mounted under a root path) still goes through Starlette, so 404/405 answers and any route added
later keep working: a single-segment path that another route claims is never taken as a slug.

One trailing slash is dropped before routing (`/qwq-32b/` is served as `/qwq-32b`): Starlette's own
answer to it, a redirect, builds its URL from the client's Host header, which a client can forge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from worker.web.asgi import Receive, Scope, Send


class SlugFastPath:
    def __init__(
        self, app: Any, endpoint: Any, other_paths: Iterable[str], fixed: Mapping[str, Any] | None = None
    ) -> None:
        """`fixed`: exact paths (no parameters) whose `POST` goes to the given pure-ASGI endpoint."""
        self.app = app
        self.endpoint = endpoint
        self.reserved = frozenset(other_paths)
        self.fixed = dict(fixed or {})

    @property
    def state(self) -> Any:
        """The Starlette app's state, reachable through this wrapper as through the app itself."""
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/") and len(scope["path"]) > 1:
            scope["path"] = scope["path"][:-1]
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path: str = scope["path"]
            fixed = self.fixed.get(path)
            if fixed is not None:
                scope["path_params"] = {}
                await fixed(scope, receive, send)
                return
            if path.count("/") == 1 and len(path) > 1 and path not in self.reserved:
                scope["path_params"] = {"slug": path[1:]}
                await self.endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)
