"""Bodies a contract fuzzer (schemathesis) found to crash the surfaces, now answered properly."""

from __future__ import annotations

from typing import Any

import httpx

HI: Any = [{"role": "user", "content": "hi"}]
RUN = "/client/v4/accounts/acc/ai/run/@cf/qwen/qwq-32b"


async def test_broken_embedded_schemas_are_a_400_naming_them(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    broken = {"type": "integer", "minimum": [1]}
    openai = await client.post(
        "/v1/chat/completions",
        json={
            "model": "qwq-32b",
            "messages": HI,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": broken}},
        },
        headers=auth,
    )
    assert openai.status_code == 400
    assert openai.json()["error"]["param"] == "response_format.json_schema.schema.minimum"
    anthropic = await client.post(
        "/v1/messages",
        json={
            "model": "qwq-32b",
            "max_tokens": 9,
            "messages": HI,
            "tools": [{"name": "f", "input_schema": {"type": "object", "properties": [1]}}],
        },
        headers=auth,
    )
    assert (
        anthropic.status_code == 400
        and "/tools/0/input_schema/properties" in anthropic.json()["error"]["message"]
    )
    cloudflare = await client.post(RUN, json={"messages": HI, "guided_json": broken}, headers=auth)
    [error] = cloudflare.json()["errors"]
    assert (
        cloudflare.status_code == 400
        and error["code"] == 5006
        and "'/guided_json/minimum'" in error["message"]
    )


async def test_whole_number_floats_count_as_integers(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    openai = await client.post(
        "/v1/chat/completions", json={"model": "qwq-32b", "messages": HI, "max_tokens": 5.0}, headers=auth
    )
    assert openai.json()["usage"]["completion_tokens"] == 5
    anthropic = await client.post(
        "/v1/messages", json={"model": "qwq-32b", "max_tokens": 4.0, "messages": HI}, headers=auth
    )
    assert anthropic.json()["usage"]["output_tokens"] == 4
    cloudflare = await client.post(RUN, json={"messages": HI, "max_tokens": 3.0}, headers=auth)
    assert cloudflare.json()["result"]["usage"]["completion_tokens"] == 3


async def test_unchecked_fields_of_other_roles_are_ignored(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    messages = [{"role": "user", "content": "hi", "tool_calls": 5, "tool_call_id": 7}]
    r = await client.post(
        "/v1/chat/completions", json={"model": "qwq-32b", "messages": messages}, headers=auth
    )
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]


async def test_flat_tool_with_a_stray_function_member(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    tool = {
        "name": "get",
        "description": "d",
        "parameters": {"type": "object", "properties": {}},
        "function": {"x": 1},
    }
    r = await client.post(RUN, json={"messages": HI, "tools": [tool]}, headers=auth)
    assert r.status_code == 200 and r.json()["result"]["tool_calls"] == [{"name": "get", "arguments": {}}]
