"""The console's files and headers, CORS for browser callers, and the admin-only live request log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer
from worker.app import create_app
from worker.console.assets import CONTENT_SECURITY_POLICY

USER_KEY = "user-key-for-console-tests"
ADMIN = {"Authorization": f"Bearer {API_KEY}"}
USER = {"Authorization": f"Bearer {USER_KEY}"}


def client(**settings: Any) -> httpx.AsyncClient:
    app = create_app(make_settings(api_keys=f"{API_KEY},{USER_KEY}", **settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.mark.parametrize("path", ["/", "/console/", "/console"])
async def test_the_console_page_is_served_with_strict_security_headers(path: str) -> None:
    async with client() as c:
        response = await c.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!doctype html>")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_inline_script_and_nothing_from_another_origin() -> None:
    async with client() as c:
        page = (await c.get("/")).text
        scripts = {
            name: (await c.get(f"/console/{name}")) for name in ("app.js", "playground.js", "admin.js")
        }
    assert '<script type="module" src="/console/app.js"></script>' in page
    assert page.count("<script") == 1 and " on" + "click=" not in page and "style=" not in page
    for name, response in scripts.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "http://" not in response.text and "https://" not in response.text, name
        assert "innerHTML" not in response.text, name


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/console/nothing.js", 404),
        ("GET", "/console/%2e%2e/app.py", 404),
        ("POST", "/console/app.js", 405),
        ("HEAD", "/console/app.js", 200),
    ],
)
async def test_only_the_packaged_files_are_served(method: str, path: str, status: int) -> None:
    async with client() as c:
        response = await c.request(method, path)
    assert response.status_code == status
    if method == "HEAD":
        assert response.content == b"" and int(response.headers["content-length"]) > 100


async def test_without_cors_origins_no_cross_origin_headers_are_sent() -> None:
    async with client() as c:
        answer = await c.get("/v1/models", headers={**USER, "Origin": "https://app.example"})
        preflight = await c.options(
            "/v1/chat/completions",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
    assert answer.status_code == 200
    assert not any(name.startswith("access-control-") for name in answer.headers)
    assert not any(name.startswith("access-control-") for name in preflight.headers)


async def test_a_preflight_from_an_allowed_origin_is_answered() -> None:
    async with client(cors_origins="https://app.example, https://other.example/") as c:
        response = await c.options(
            "/v1/chat/completions",
            headers={
                "Origin": "https://other.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://other.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "access-control-allow-credentials" not in response.headers
    assert "Origin" in response.headers["vary"]


async def test_a_preflight_from_another_origin_is_refused() -> None:
    async with client(cors_origins="https://app.example") as c:
        response = await c.options(
            "/v1/chat/completions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 403
    assert not any(name.startswith("access-control-") for name in response.headers)


async def test_answers_to_an_allowed_origin_can_be_read_by_its_page() -> None:
    async with client(cors_origins="https://app.example") as c:
        allowed = await c.get("/v1/models", headers={**USER, "Origin": "https://app.example"})
        other = await c.get("/v1/models", headers={**USER, "Origin": "https://evil.example"})
        refused = await c.get("/v1/models", headers={"Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in other.headers
    # An error is readable too, so the page can say the key was wrong.
    assert (
        refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://app.example"
    )


async def test_any_origin_with_a_star() -> None:
    async with client(cors_origins="*") as c:
        response = await c.options(
            "/v1/messages",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_the_live_log_is_for_the_admin_key_only() -> None:
    async with client() as c:
        anonymous = await c.get("/admin/v1/requests/live")
        user = await c.get("/admin/v1/requests/live", headers=USER)
    assert anonymous.status_code == 401
    assert user.status_code == 403 and user.json()["detail"] == "This endpoint needs an admin key"


def test_the_live_log_streams_metadata_never_bodies_or_keys(
    live_gateway_factory: Callable[..., LiveServer],
) -> None:
    gateway = live_gateway_factory(api_keys=f"{API_KEY},{USER_KEY}")
    secret_text = "my secret question 12345"
    with (
        httpx.Client(base_url=gateway.url, timeout=10) as http,
        http.stream("GET", "/admin/v1/requests/live", headers=ADMIN) as live,
    ):
        assert live.status_code == 200
        assert live.headers["content-type"] == "text/event-stream"
        lines = live.iter_lines()
        assert next(lines) == ": no requests yet"
        http.get("/console/app.js")  # the console's own files stay out of the log
        before = http.post(
            "/v1/chat/completions",
            headers=USER,
            json={"model": "qwq-32b", "messages": [{"role": "user", "content": secret_text}]},
        )
        http.post("/qwq-32b", headers=USER, json={"prompt": secret_text, "stream": True})
        seen = []
        for line in lines:
            seen.append(line)
            if '"path":"/qwq-32b"' in line:
                break
    raw = "\n".join(seen)
    assert secret_text not in raw and USER_KEY not in raw and API_KEY not in raw and "/console/" not in raw
    events = [orjson.loads(line[6:]) for line in seen if line.startswith("data: ")]
    assert [e["path"] for e in events] == ["/v1/chat/completions", "/qwq-32b"]
    chat, slug = events
    assert chat["id"] == before.headers["x-request-id"]
    assert chat["status"] == 200 and chat["model"] == "qwq-32b" and chat["surface"] == "openai"
    assert chat["key_id"] == "static-2"  # the public id of the second of API_KEYS, never the key
    assert chat["prompt_tokens"] > 0 and chat["completion_tokens"] > 0
    expected = (chat["prompt_tokens"] * 0.66 + chat["completion_tokens"] * 1.00) / 1e6
    assert chat["cost_usd"] == pytest.approx(expected, abs=1e-8)
    assert slug["streamed"] is True and slug["method"] == "POST"
