"""The console's routes: its files at `/` and `/console/`, and the live request log."""

from __future__ import annotations

from starlette.routing import Route

from worker.console.assets import StaticAssets
from worker.console.live import LIVE_PATH, LiveEndpoint, LiveLog
from worker.observe.prices import Prices
from worker.state import AppState


def console_routes(state: AppState) -> list[Route]:
    live = LiveLog(state.sinks, Prices(state.table))
    assets = StaticAssets()
    reads = ["GET", "HEAD"]
    return [
        Route("/", assets, methods=reads),
        Route("/console", assets, methods=reads),
        Route("/console/{name:path}", assets, methods=reads),
        Route(LIVE_PATH, LiveEndpoint(state, live), methods=["GET"]),
    ]
