"""Image parts take `data:image/...` URIs only: a `data:text/html` URI is refused with a 400 that says
why, on every surface whose messages carry image URLs, and the OpenAPI document says so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import AUTH, make_settings
from worker.config.models import builtin_table
from worker.surfaces.openapi import openapi_document

PNG = "data:image/png;base64,iVBORw0KGgo="
HTML = "data:text/html;base64,PHNjcmlwdD4="


def openai_body(url: str) -> dict[str, Any]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return {"model": "qwq-32b", "messages": [{"role": "user", "content": [part]}], "max_tokens": 16}


def workers_body(url: str) -> dict[str, Any]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "what is it?"}, part]}]}


def workers_single_part(url: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": {"type": "image_url", "image_url": {"url": url}}}]}


CASES = [
    ("/v1/chat/completions", openai_body, lambda b: b["error"]["message"], "messages.0.content.0"),
    ("/qwq-32b", workers_body, lambda b: b["error"], "/messages/0/content/1/image_url/url"),
    ("/qwq-32b", workers_single_part, lambda b: b["error"], "/messages/0/content/image_url/url"),
    (
        "/client/v4/accounts/a/ai/run/@cf/qwen/qwq-32b",
        workers_body,
        lambda b: b["errors"][0]["message"],
        "/messages/0/content/1/image_url/url",
    ),
]


@pytest.mark.parametrize(("path", "body", "message_of", "where"), CASES)
async def test_a_data_uri_of_another_type_is_refused_clearly(
    client: httpx.AsyncClient, path: str, body: Any, message_of: Any, where: str
) -> None:
    refused = await client.post(path, json=body(HTML), headers=AUTH)
    assert refused.status_code == 400
    message = message_of(refused.json())
    assert "data:image/" in message and "data:text/html" in message
    assert where in message or where in refused.text
    accepted = await client.post(path, json=body(PNG), headers=AUTH)
    assert accepted.status_code == 200, accepted.text


async def test_an_http_url_keeps_its_own_message(client: httpx.AsyncClient) -> None:
    r = await client.post("/qwq-32b", json=workers_body("https://example.com/cat.png"), headers=AUTH)
    assert r.status_code == 400
    assert "HTTP URLs are not accepted" in r.json()["error"]


def test_the_openapi_document_states_the_image_rule() -> None:
    document = openapi_document(builtin_table(make_settings()))
    part = document["components"]["schemas"]["ContentPart"]
    assert part["properties"]["image_url"]["properties"]["url"]["pattern"] == "^data:image/"
