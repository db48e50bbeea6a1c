"""The OpenAPI document describes every route, and its request schemas are the ones the gateway enforces."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Route

from tests.conftest import make_settings
from worker.app import ALL_METHODS, create_app
from worker.config.models import builtin_table
from worker.dialects.schemas import anthropic_violations, openai_violations, responses_violations
from worker.surfaces.openapi import openapi_document

SPEC = openapi_document(builtin_table(make_settings()))
# The web console's pages and its live log (an endless event stream, which the contract
# fuzzer could not call) are described in docs/console.md and tested in tests/console/, not here.
CONSOLE_PATHS = {"/", "/console", "/console/{name:path}", "/admin/v1/requests/live"}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_every_route_is_described() -> None:
    app = create_app(make_settings()).app.app  # access log -> slug fast path -> the Starlette app
    described = {(path, method.upper()) for path, ops in SPEC["paths"].items() for method in ops}
    for route in app.routes:
        assert isinstance(route, Route)
        if route.path in CONSOLE_PATHS:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path).replace("{slug}", "{modelSlug}")
        # Fixed GET routes take every method so that they can answer 405 themselves (app.get_only).
        methods = {"GET"} if set(route.methods or ()) >= set(ALL_METHODS) else route.methods or set()
        for method in methods:
            if method != "HEAD":
                assert (path, method) in described, f"{method} {path} is not in /openapi.json"


def test_every_reference_resolves() -> None:
    for ref in _refs(SPEC):
        assert (
            ref.startswith("#/components/schemas/") and ref.split("/")[-1] in SPEC["components"]["schemas"]
        ), ref


def _validator(component: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{component}", "components": SPEC["components"]}
    )


OPENAI_BODIES: list[Any] = [
    {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "qwq-32b", "messages": [{"role": "tool", "content": "x"}]},
    {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}], "temperature": 9},
    {"model": "qwq-32b", "messages": [], "shape": "x"},
]
ANTHROPIC_BODIES: list[Any] = [
    {"model": "qwq-32b", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    {"model": "qwq-32b", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "qwq-32b", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]},
]


@pytest.mark.parametrize("body", OPENAI_BODIES)
def test_openai_schema_in_the_document_is_the_enforced_one(body: Any) -> None:
    assert _validator("OpenAIChatRequest").is_valid(body) == (not openai_violations(body))


@pytest.mark.parametrize("body", ANTHROPIC_BODIES)
def test_anthropic_schema_in_the_document_is_the_enforced_one(body: Any) -> None:
    assert _validator("AnthropicMessagesRequest").is_valid(body) == (not anthropic_violations(body))


RESPONSES_BODIES: list[Any] = [
    {"model": "qwq-32b", "input": "hi"},
    {"model": "qwq-32b", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]},
    {"model": "qwq-32b", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
    {"model": "qwq-32b", "input": "hi", "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}]},
    {"model": "qwq-32b", "input": "hi", "n": 2},
]


@pytest.mark.parametrize("body", RESPONSES_BODIES)
def test_responses_schema_in_the_document_is_the_enforced_one(body: Any) -> None:
    assert _validator("OpenAIResponsesRequest").is_valid(body) == (not responses_violations(body))
