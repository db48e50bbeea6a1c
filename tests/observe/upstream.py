"""A fake upstream that remembers the headers of every request it was sent."""

from __future__ import annotations

from typing import Any

from tests.servers import FaultServer


class HeaderCapture:
    def __init__(self, script: list[str] | None = None) -> None:
        self.upstream = FaultServer(script or ["ok"])
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self.upstream(scope, receive, send)
