"""`POST /{modelSlug}` in-process: auth, slugs, body checks and both answer shapes (simulator upstream)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import httpx
import orjson
import pytest

from tests.conftest import API_KEY, make_settings
from worker.app import create_app
from worker.core.cost import Prices
from worker.core.ir import Usage
from worker.core.outcome import RequestRecord
from worker.surfaces.endpoint import priced

CHAT = {"messages": [{"role": "user", "content": "Summarize edge AI in one paragraph."}]}


async def test_workers_shape_by_default(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post("/qwq-32b", json=CHAT, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"response", "usage"}
    assert "</think>" in body["response"] and body["response"].strip()
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert r.headers["x-request-id"]


@pytest.mark.parametrize("how", ["query", "header"])
async def test_choices_shape_on_request(client: httpx.AsyncClient, auth: dict[str, str], how: str) -> None:
    if how == "query":
        r = await client.post("/qwq-32b?shape=choices", json=CHAT, headers=auth)
    else:
        r = await client.post("/qwq-32b", json=CHAT, headers={**auth, "X-Response-Shape": "choices"})
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion" and body["model"] == "qwq-32b"
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] == "stop" and body["usage"]["total_tokens"] > 0


async def test_choices_shape_as_deployment_default(auth: dict[str, str]) -> None:
    app = create_app(make_settings(response_shape="choices"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        assert "choices" in (await c.post("/qwq-32b", json=CHAT, headers=auth)).json()
        assert "response" in (await c.post("/qwq-32b?shape=workers", json=CHAT, headers=auth)).json()


async def test_unknown_shape_is_a_400(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post("/qwq-32b?shape=xml", json=CHAT, headers=auth)
    assert r.status_code == 400 and "shape" in r.json()["error"]


async def test_prompt_form_and_max_tokens(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post("/qwq-32b?shape=choices", json={"prompt": "Hi", "max_tokens": 7}, headers=auth)
    body = r.json()
    assert body["usage"]["completion_tokens"] == 7 and body["choices"][0]["finish_reason"] == "length"


async def test_same_request_same_answer(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = await client.post("/qwq-32b", json={**CHAT, "seed": 42}, headers=auth)
    second = await client.post("/qwq-32b", json={**CHAT, "seed": 42}, headers=auth)
    assert first.json() == second.json()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": "Bearer"},
    ],
)
async def test_bad_or_missing_key_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.post("/qwq-32b", json=CHAT, headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "Missing or invalid API key" and body["detail"]


async def test_auth_comes_before_the_slug(client: httpx.AsyncClient) -> None:
    assert (await client.post("/no-such-model", json=CHAT)).status_code == 401


async def test_unknown_slug_is_404_in_the_same_shape(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post("/llama-9000", json=CHAT, headers=auth)
    assert r.status_code == 404
    assert r.json() == {"error": "No such model 'llama-9000'", "detail": {"models": ["qwq-32b"]}}


@pytest.mark.parametrize(
    ("content", "headers", "status", "needle"),
    [
        (b"", {"content-type": "application/json"}, 400, "empty"),
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "JSON object"),
        (b'{"prompt": "x"}', {"content-type": "text/plain"}, 415, "application/json"),
        (b'{"messages": []', {"content-type": "application/json; charset=utf-8"}, 400, "not valid JSON"),
    ],
)
async def test_body_errors(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    content: bytes,
    headers: dict[str, str],
    status: int,
    needle: str,
) -> None:
    r = await client.post("/qwq-32b", content=content, headers={**auth, **headers})
    assert r.status_code == status
    body = r.json()
    assert needle in body["error"] + orjson.dumps(body.get("detail")).decode()


async def test_huge_body_is_413(auth: dict[str, str]) -> None:
    app = create_app(make_settings(max_body_bytes=1000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        r = await c.post("/qwq-32b", json={"prompt": "x" * 2000}, headers=auth)
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        small = await c.post("/qwq-32b", json={"prompt": "x" * 100}, headers=auth)
        assert small.status_code == 200


async def test_schema_violation_is_400_with_pointers(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(
        "/qwq-32b", json={"messages": [{"role": "user", "content": "x"}], "top_k": 99}, headers=auth
    )
    assert r.status_code == 400
    assert r.json()["detail"] == [{"path": "/top_k", "message": "99 is greater than the maximum of 50"}]


async def test_functions_are_refused_not_dropped(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {**CHAT, "functions": [{"name": "f", "code": "return 1"}]}
    r = await client.post("/qwq-32b", json=body, headers=auth)
    assert r.status_code == 400 and "'functions'" in r.json()["error"]


async def test_upstream_failures_map_to_the_contract(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    def ask(fault: str) -> dict[str, object]:
        return {"messages": [{"role": "user", "content": f"hello [sim:{fault}]"}]}

    r = await client.post("/qwq-32b", json=ask("error-500"), headers=auth)
    assert r.status_code == 500 and "500" in r.json()["error"]
    r = await client.post("/qwq-32b", json=ask("error-429"), headers=auth)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    r = await client.post("/qwq-32b", json=ask("error-401"), headers=auth)
    assert r.status_code == 500 and "credentials" in r.json()["error"]
    r = await client.post("/qwq-32b", json=ask("error-422"), headers=auth)
    assert r.status_code == 400 and "upstream refused" in r.json()["error"]
    r = await client.post("/qwq-32b", json=ask("malformed"), headers=auth)
    assert r.status_code == 500 and "choices" in r.json()["error"]


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    post = spec["paths"]["/{modelSlug}"]["post"]
    assert {"400", "401", "404", "413", "429", "499", "500"} <= set(post["responses"])
    run_input = spec["components"]["schemas"]["RunInput"]["allOf"][0]
    assert [b["title"] for b in run_input["oneOf"]] == ["Qwen_Qwq_32B_Prompt", "Qwen_Qwq_32B_Messages"]


async def test_flat_tool_with_a_stray_function_member(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """Found by schemathesis: a flat tool may carry an unrelated `function` member."""
    params = {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}}
    tool = {"name": "search", "description": "web search", "parameters": params, "function": {}}
    body = {"messages": [{"role": "user", "content": "find it"}], "tools": [tool]}
    r = await client.post("/qwq-32b", json=body, headers=auth)
    assert r.status_code == 200
    assert r.json()["tool_calls"] == [{"name": "search", "arguments": {"q": "example"}}]


async def test_empty_messages_are_answered(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post("/qwq-32b", json={"messages": []}, headers=auth)
    assert r.status_code == 200 and r.json()["response"]


async def test_integral_floats_count_as_integers(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    """Found by schemathesis: JSON Schema accepts 5.0 as an integer, so the gateway must too."""
    r = await client.post("/qwq-32b", json={"prompt": "hi", "max_tokens": 5.0, "top_k": 3.0}, headers=auth)
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 5


def test_priced_keeps_every_field_of_the_usage_as_replace_would() -> None:
    """`priced` calls the `Usage` constructor field by field (cheaper than `dataclasses.replace`); a
    field added to `Usage` and forgotten there would be dropped. Fields it does not know hold values
    of their own, so any field not carried makes the two differ."""
    known = {"prompt_tokens": 1000, "completion_tokens": 2000, "reasoning_tokens": 7, "estimated": True}
    values = {f.name: known.get(f.name, object()) for f in dataclasses.fields(Usage)}
    usage = Usage(**values)  # type: ignore[arg-type]
    state = SimpleNamespace(prices={"qwq-32b#0": Prices(1.0, 2.0)})
    record = RequestRecord("r", "POST", "/qwq-32b", target="qwq-32b#0", model="qwq-32b")
    priced_usage = priced(state, record, usage)  # type: ignore[arg-type]
    assert priced_usage == dataclasses.replace(usage, cost=0.005)
