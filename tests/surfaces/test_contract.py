"""Contract tests: schemathesis generates requests from GET /openapi.json's description and sends them
to a live gateway (uvicorn on a real socket, simulator upstream); every default check must pass, and
no generated input may produce a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer
from worker.app import create_app
from worker.config.models import builtin_table
from worker.surfaces.openapi import openapi_document

# Schemathesis authenticates through the document's `bearer` scheme itself, so that it can also
# generate requests without it (and expect them to be refused).
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": API_KEY}}}})
schema = schemathesis.openapi.from_dict(openapi_document(builtin_table(make_settings())), config=CONFIG)


SIMPLE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def make_structured_answers_possible(body: Any) -> None:
    """Generated `guided_json` and `response_format` schemas are arbitrary (`minItems: 10**9`,
    contradictions) and no model, the simulator included, could answer them; an answer that misses the
    schema is a 500 by design (docs/surfaces.md). So a generated schema is swapped for a simple one and
    given room under `max_tokens` (a JSON answer cut off by the client's own limit is a 400 by design).
    Only values of a valid type are touched, so a body that was invalid stays invalid. Structured output
    itself is tested in tests/e2e/test_tools.py."""
    if not isinstance(body, dict):
        return
    structured = False
    if isinstance(body.get("guided_json"), dict):
        body["guided_json"] = SIMPLE_SCHEMA
        structured = True
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_schema", "json_object"):
        wanted = response_format.get("json_schema")
        if isinstance(wanted, dict) and isinstance(wanted.get("schema"), dict):
            wanted["schema"] = SIMPLE_SCHEMA
        structured = True
    if not structured:
        return
    for field in ("max_tokens", "max_completion_tokens"):
        limit = body.get(field, 256)
        integral = (
            isinstance(limit, int | float) and not isinstance(limit, bool) and float(limit).is_integer()
        )
        if integral and limit >= 1:
            body[field] = max(limit, 4096)


@pytest.fixture(scope="module")
def contract_gateway() -> Iterator[LiveServer]:
    server = LiveServer(create_app(make_settings()))
    server.start()
    yield server
    server.stop()


SIMPLE_PARAMETERS = {"type": "object", "properties": {}}


def keep_the_stated_cross_field_rules(body: Any) -> None:
    """The document states the rules JSON Schema can express in the request schemas themselves, and
    the rest in prose (`CROSS_FIELD_RULES` in worker/surfaces/openapi_paths.py: a `tool_choice` names
    an offered tool, Anthropic's `max_tokens` exceeds `thinking.budget_tokens`, tool parameters are a
    valid JSON Schema), which a generator cannot read. This short list is kept here: a generated body
    is made to follow them, touching only values of a valid type, so that a schema-valid body is
    still expected to be accepted on every route."""
    if not isinstance(body, dict):
        return
    tools = body["tools"] if isinstance(body.get("tools"), list) else []
    names: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        holder = function if isinstance(function, dict) else tool
        for key in ("parameters", "input_schema"):
            if isinstance(holder.get(key), dict):
                holder[key] = dict(SIMPLE_PARAMETERS)
        if isinstance(holder.get("name"), str):
            names.append(holder["name"])
    choice = body.get("tool_choice")
    if names and isinstance(choice, dict):
        if isinstance(choice.get("function"), dict) and isinstance(choice["function"].get("name"), str):
            choice["function"]["name"] = names[0]
        if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            choice["name"] = names[0]
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget, limit = thinking.get("budget_tokens"), body.get("max_tokens")
        if (
            isinstance(budget, int)
            and isinstance(limit, int)
            and not isinstance(limit, bool)
            and limit <= budget
        ):
            body["max_tokens"] = budget + 1


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_keeps_its_contract(case: schemathesis.Case[Any], contract_gateway: LiveServer) -> None:
    make_structured_answers_possible(case.body)
    keep_the_stated_cross_field_rules(case.body)
    response = case.call_and_validate(base_url=contract_gateway.url)
    assert response.status_code < 500


def test_the_served_document_is_the_one_tested(contract_gateway: LiveServer) -> None:
    import httpx

    served = httpx.get(f"{contract_gateway.url}/openapi.json").json()
    assert served == openapi_document(builtin_table(make_settings()))
