from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from worker.web.asgi import Receive, Scope, Send, send_json
from worker.web.fastpath import SlugFastPath


async def slug_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, f'{{"slug": "{scope["path_params"]["slug"]}", "via": "endpoint"}}'.encode())


async def reserved(request: Request) -> Response:
    return JSONResponse({"via": "starlette"})


def make_client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[
            Route("/reserved", reserved, methods=["POST"]),
            Route("/{slug}", slug_endpoint, methods=["POST"]),
        ]
    )
    fast = SlugFastPath(app, slug_endpoint, ["/reserved"])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t")


async def test_post_to_one_segment_reaches_the_endpoint_with_its_slug() -> None:
    async with make_client() as client:
        r = await client.post("/qwq-32b", content=b"{}")
    assert r.json() == {"slug": "qwq-32b", "via": "endpoint"}


async def test_paths_other_routes_claim_still_go_to_them() -> None:
    async with make_client() as client:
        assert (await client.post("/reserved")).json() == {"via": "starlette"}


async def test_other_methods_and_deeper_paths_keep_starlettes_answers() -> None:
    async with make_client() as client:
        assert (await client.get("/qwq-32b")).status_code == 405
        assert (await client.post("/a/b")).status_code == 404
        assert (await client.post("/")).status_code == 404


async def fixed_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, f'{{"params": {len(scope["path_params"])}, "via": "fixed"}}'.encode())


async def test_post_to_a_fixed_path_reaches_its_endpoint_and_other_methods_stay_starlettes() -> None:
    app = Starlette(routes=[Route("/v1/chat", fixed_endpoint, methods=["POST"])])
    fast = SlugFastPath(app, slug_endpoint, ["/v1/chat"], {"/v1/chat": fixed_endpoint})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://t") as client:
        assert (await client.post("/v1/chat")).json() == {"params": 0, "via": "fixed"}
        assert (await client.get("/v1/chat")).status_code == 405
        assert (await client.post("/v1/chat/more")).status_code == 404


def test_the_app_takes_the_fixed_dialect_routes_past_the_router() -> None:
    from tests.conftest import make_settings
    from worker.app import create_app
    from worker.surfaces.endpoint import DialectEndpoint

    fast = create_app(make_settings()).app
    assert isinstance(fast, SlugFastPath)
    assert {"/v1/chat/completions", "/v1/openai/chat/completions", "/v1/messages"} <= fast.fixed.keys()
    assert all(isinstance(endpoint, DialectEndpoint) for endpoint in fast.fixed.values())
    assert not any("{" in path for path in fast.fixed)
