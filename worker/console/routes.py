"""The console's routes: its files at `/` and `/console/`, model prices, and the live request log."""

from __future__ import annotations

import orjson
from starlette.routing import Route

from worker.console.assets import StaticAssets
from worker.console.live import LIVE_PATH, LiveEndpoint, LiveLog
from worker.core.errors import GatewayError
from worker.observe.prices import Prices
from worker.state import AppState
from worker.web.asgi import Receive, Scope, Send, header, send_json
from worker.web.auth import authenticate


class PricesEndpoint:
    """`GET /console/prices.json`: each model's price per million tokens, for the cost of an answer.

    Any valid key may read it (prices are no secret, but the model table is only shown to clients)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.body = orjson.dumps(
            {
                "data": [
                    {
                        "id": slug,
                        "input_per_m": entry.price_input_per_m,
                        "output_per_m": entry.price_output_per_m,
                    }
                    for slug, entry in sorted(state.table.entries.items())
                ]
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            authenticate(self.state.keys, header(scope, b"authorization"))
        except GatewayError as error:
            await send_json(
                send, error.status, orjson.dumps({"error": error.message, "detail": error.detail})
            )
            return
        await send_json(send, 200, self.body, [(b"cache-control", b"no-store")])


def console_routes(state: AppState) -> list[Route]:
    live = LiveLog(Prices(state.table))
    state.sinks.append(live.sink)
    assets = StaticAssets()
    reads = ["GET", "HEAD"]
    return [
        Route("/", assets, methods=reads),
        Route("/console/prices.json", PricesEndpoint(state), methods=reads),
        Route("/console", assets, methods=reads),
        Route("/console/{name:path}", assets, methods=reads),
        Route(LIVE_PATH, LiveEndpoint(state, live), methods=["GET"]),
    ]
