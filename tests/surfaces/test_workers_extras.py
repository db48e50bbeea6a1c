"""`/qwq-32b` and Cloudflare REST: fields the schema does not know are named in a header, every error
carries `detail`, and a model's `default_max_tokens` stands in for a `max_tokens` the request does not
name (on the OpenAI route too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AUTH
from worker.dialects.workers import ignored_fields

ASK = [{"role": "user", "content": "What is an edge gateway?"}]
CF_RUN = "/client/v4/accounts/abc/ai/run/@cf/qwen/qwq-32b"


def test_ignored_fields_are_the_unknown_top_level_names() -> None:
    body = {"messages": ASK, "max_tokens": 5, "tool_choice": "auto", "model": "x", "response_format": {}}
    assert ignored_fields(body) == ("model", "response_format")
    assert ignored_fields({"messages": ASK}) == ()


def test_ignored_fields_stay_short_and_header_safe() -> None:
    odd = {"a\r\nX-Evil: 1": 1, "é": 2, "x" * 65: 3, **{f"f{i}": i for i in range(20)}}
    named = ignored_fields(odd)
    assert named[:16] == tuple(f"f{i}" for i in range(16))
    assert named[16:] == ("+7 more",)


@pytest.mark.parametrize("path", ["/qwq-32b", CF_RUN])
async def test_unknown_fields_are_named_in_the_header(client: httpx.AsyncClient, path: str) -> None:
    body = {"messages": ASK, "max_tokens": 5, "response_format": {"type": "json_object"}, "n": 2}
    answer = await client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["x-gateway-ignored-fields"] == "response_format, n"
    known = await client.post(path, json={"messages": ASK, "max_tokens": 5}, headers=AUTH)
    assert "x-gateway-ignored-fields" not in known.headers


async def test_every_error_carries_detail(client: httpx.AsyncClient) -> None:
    answer = await client.post("/qwq-32b?shape=xml", json={"messages": ASK}, headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"code": "invalid_request"}
    failing = [{"role": "user", "content": "hi [sim:malformed]"}]
    upstream = await client.post("/qwq-32b", json={"messages": failing}, headers=AUTH)
    assert upstream.status_code == 500
    assert upstream.json()["detail"] == {"code": "upstream_bad_response"}


def _table(tmp_path: Path, line: str) -> str:
    path = tmp_path / "models.toml"
    path.write_text(
        f'[models.qwq-32b]\ncloudflare_id = "@cf/qwen/qwq-32b"\n{line}\n'
        '[[models.qwq-32b.targets]]\nadapter = "simulator"\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/qwq-32b", {"messages": ASK}),
        (CF_RUN, {"messages": ASK}),
        ("/v1/chat/completions", {"model": "qwq-32b", "messages": ASK}),
    ],
)
async def test_default_max_tokens_applies_when_the_request_names_none(
    app_factory: Callable[..., Any], tmp_path: Path, path: str, body: dict[str, Any]
) -> None:
    app = app_factory(models_file=_table(tmp_path, "default_max_tokens = 7"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as gw:
        cut = (await gw.post(path, json=body, headers=AUTH)).json()
        named = (await gw.post(path, json={**body, "max_tokens": 9}, headers=AUTH)).json()
    usage = (cut.get("result") or cut)["usage"]
    assert usage["completion_tokens"] == 7
    assert (named.get("result") or named)["usage"]["completion_tokens"] == 9


async def test_without_default_max_tokens_the_workers_routes_keep_256(client: httpx.AsyncClient) -> None:
    """The simulator's answers are shorter than 256 tokens, so a full answer (finish `stop`) shows no
    smaller limit was applied; the OpenAI route sends none at all."""
    answer = await client.post("/qwq-32b?shape=choices", json={"messages": ASK}, headers=AUTH)
    assert answer.json()["choices"][0]["finish_reason"] == "stop"
