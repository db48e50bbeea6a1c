"""The shape caps (worker/dialects/limits.py): hostile bodies are refused with a short 400 on every
surface before any schema validator or encoder sees them, and the largest real shapes still pass."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import AUTH
from worker.dialects.limits import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_VALUES,
    MAX_VIOLATIONS,
    deeper_than,
    shape_violations,
)

CHAT = [{"role": "user", "content": "hi"}]
# (path, the fields a valid body needs besides the ones a test adds, how the error's text is found)
SURFACES: list[tuple[str, dict[str, Any], Any]] = [
    ("/qwq-32b", {}, lambda body: body["error"]),
    ("/client/v4/accounts/acc/ai/run/@cf/qwen/qwq-32b", {}, lambda body: body["errors"][0]["message"]),
    ("/v1/chat/completions", {"model": "qwq-32b"}, lambda body: body["error"]["message"]),
    ("/v1/messages", {"model": "qwq-32b", "max_tokens": 64}, lambda body: body["error"]["message"]),
]
IDS = ["model-slug", "cloudflare", "openai", "anthropic"]


def nested_schema(levels: int) -> bytes:
    """A JSON schema `levels` objects deep, written by hand: orjson itself refuses to encode > 254."""
    inner = b'{"type":"object","description":"d","properties":{"a":'
    return inner * levels + b'{"type":"string","description":"d"}' + b"}}" * levels


def tools_with(path: str, schema: bytes) -> bytes:
    """A body on `path`'s surface whose one tool has `schema` as its parameters."""
    if path == "/v1/messages":
        return b'{"name":"f","input_schema":' + schema + b"}"
    if path == "/v1/chat/completions":
        return b'{"type":"function","function":{"name":"f","parameters":' + schema + b"}}"
    return b'{"name":"f","description":"d","parameters":' + schema + b"}"


def body_of(fields: dict[str, Any], raw_fields: bytes = b"") -> bytes:
    encoded = orjson.dumps({**fields, "messages": CHAT})
    return encoded[:-1] + (b"," + raw_fields if raw_fields else b"") + b"}"


async def post(client: httpx.AsyncClient, path: str, content: bytes) -> httpx.Response:
    return await client.post(path, content=content, headers={**AUTH, "content-type": "application/json"})


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
async def test_a_million_values_are_refused_with_a_short_answer(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any
) -> None:
    content = orjson.dumps({**fields, "messages": [1] * 1_000_000})
    r = await post(client, path, content)
    assert r.status_code == 400
    assert len(r.content) < 4096
    assert f"at most {MAX_ITEMS}" in error_of(r.json())


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
async def test_many_violations_within_the_caps_are_listed_boundedly(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any
) -> None:
    """Within every cap, a body can still break a rule thousands of times: the answer lists a few."""
    content = orjson.dumps({**fields, "messages": [1] * MAX_ITEMS})
    r = await post(client, path, content)
    assert r.status_code == 400
    assert len(r.content) < 8192
    if path == "/qwq-32b":
        assert len(r.json()["detail"]) == MAX_VIOLATIONS + 1
        assert "not listed" in r.json()["detail"][-1]["message"]


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
@pytest.mark.parametrize("levels", [100, 300])
async def test_deep_tool_schemas_are_refused_naming_the_limit(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any, levels: int
) -> None:
    raw = b'"tools":[' + tools_with(path, nested_schema(levels)) + b"]"
    r = await post(client, path, body_of(fields, raw))
    assert r.status_code == 400
    assert f"deeper than {MAX_DEPTH} levels" in error_of(r.json())
    assert len(r.content) < 4096


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES[:3], ids=IDS[:3])
async def test_deep_structured_output_schemas_are_refused(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any
) -> None:
    schema = nested_schema(120)
    if path == "/v1/chat/completions":
        raw = b'"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":' + schema + b"}}"
    else:
        raw = b'"guided_json":' + schema
    r = await post(client, path, body_of(fields, raw))
    assert r.status_code == 400
    assert f"deeper than {MAX_DEPTH} levels" in error_of(r.json())


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
async def test_the_deepest_accepted_tool_schema_is_served(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any
) -> None:
    """Right at the cap the body is served: no RecursionError, no encoder failure, no 500."""
    # levels of the body above the schema: body, tools, tool, (function,) parameters' own object
    above = {"/v1/chat/completions": 4, "/v1/messages": 3}.get(path, 3)
    levels = (MAX_DEPTH - above - 1) // 2
    raw = b'"tools":[' + tools_with(path, nested_schema(levels)) + b"]"
    r = await post(client, path, body_of(fields, raw))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
@pytest.mark.parametrize(
    "raw",
    [
        b'"max_tokens":99999999999999999999999',
        b'"seed":18446744073709551616',
        b'"seed":18446744073709551615',
        b'"seed":-99999999999999999999',
    ],
)
async def test_integers_past_64_bits_are_refused(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any, raw: bytes
) -> None:
    fields = {k: v for k, v in fields.items() if k != "max_tokens" or b"max_tokens" not in raw}
    if path == "/v1/messages":  # Anthropic's API has no `seed` (an extra input): another integer field
        raw = raw.replace(b'"seed"', b'"top_k"')
    r = await post(client, path, body_of(fields, raw))
    assert r.status_code == 400
    assert "64-bit" in error_of(r.json())


@pytest.mark.parametrize(("path", "fields", "error_of"), SURFACES, ids=IDS)
async def test_nested_huge_integers_are_refused(
    client: httpx.AsyncClient, path: str, fields: dict[str, Any], error_of: Any
) -> None:
    schema = b'{"type":"object","properties":{"n":{"type":"integer","maximum":36893488147419103232}}}'
    raw = b'"tools":[' + tools_with(path, schema) + b"]"
    r = await post(client, path, body_of(fields, raw))
    assert r.status_code == 400
    assert "64-bit" in error_of(r.json())


def test_the_largest_real_shapes_pass() -> None:
    """A thousand-message conversation with two dozen tools, and the int64 extremes, are within the caps."""
    tool = {"name": "t", "input_schema": {"type": "object", "properties": {"p": {"type": "string"}}}}
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}] * 1000,
        "tools": [tool] * 24,
        "seed": 2**63 - 1,
        "other": -(2**63),
    }
    assert shape_violations(body) == []


def test_each_cap_is_named_with_its_place() -> None:
    assert shape_violations({"a": [[0]] * (MAX_VALUES // 2 + 1)})[0]["path"] == "/a"
    deep: Any = "x"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert shape_violations(deep) == []
    refused = shape_violations({"k": deep})
    assert refused[0]["path"] == "/k" + "/0" * (MAX_DEPTH - 1)
    assert "deeper than" in refused[0]["message"]
    assert shape_violations({"a/b": {"n": 2**64}}) == [
        {
            "path": "/a~1b/n",
            "message": "the number is outside the signed 64-bit range "
            "(-9223372036854775808 to 9223372036854775807)",
        }
    ]
    assert shape_violations({str(i): i for i in range(MAX_ITEMS + 1)})[0]["path"] == "/"


def test_deeper_than_stops_at_the_limit() -> None:
    assert not deeper_than({"a": {"b": 1}}, 2)
    assert deeper_than({"a": {"b": [1]}}, 2)
    assert deeper_than([], 0) and not deeper_than(1, 0)
