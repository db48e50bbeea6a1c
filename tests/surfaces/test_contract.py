"""Contract tests: schemathesis generates requests from GET /openapi.json's description and sends them
to a live gateway (uvicorn on a real socket, simulator upstream); every default check must pass, and
no generated input may produce a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import API_KEY, make_settings
from tests.servers import LiveServer
from worker.app import create_app
from worker.config.models import builtin_table
from worker.dialects.limits import INT_MAX, INT_MIN
from worker.surfaces.openapi import openapi_document

# Schemathesis authenticates through the document's `bearer` scheme itself, so that it can also
# generate requests without it (and expect them to be refused).
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": API_KEY}}}})
schema = schemathesis.openapi.from_dict(openapi_document(builtin_table(make_settings())), config=CONFIG)


SIMPLE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def make_structured_answers_possible(body: Any, positive: bool = True) -> None:
    """Generated `guided_json` and `response_format` schemas are arbitrary (`minItems: 10**9`,
    contradictions) and no model, the simulator included, could answer them; an answer that misses the
    schema is a 500 by design (docs/surfaces.md). So a generated schema is swapped for a simple one and
    given room under `max_tokens` (a JSON answer cut off by the client's own limit is a 400 by design).
    Only values of a valid type are touched, so a body that was invalid stays invalid (a
    `response_format` schema, which has rules of its own, only in a case generated as valid).
    Structured output itself is tested in tests/e2e/test_tools.py."""
    if not isinstance(body, dict):
        return
    structured = False
    if isinstance(body.get("guided_json"), dict):
        body["guided_json"] = SIMPLE_SCHEMA
        structured = True
    response_format = body.get("response_format")
    if (
        positive
        and isinstance(response_format, dict)
        and response_format.get("type") in ("json_schema", "json_object")
    ):
        wanted = response_format.get("json_schema")
        if isinstance(wanted, dict) and isinstance(wanted.get("schema"), dict):
            wanted["schema"] = SIMPLE_SCHEMA
        structured = True
    # Anthropic's `output_format` / `output_config.format` and the Responses API's `text.format`.
    config, text = body.get("output_config"), body.get("text")
    chat = structured  # the chat surfaces' limits may be added; others' bodies refuse unknown fields
    for form in (
        body.get("output_format"),
        config.get("format") if isinstance(config, dict) else None,
        text.get("format") if isinstance(text, dict) else None,
    ):
        if positive and isinstance(form, dict) and form.get("type") in ("json_schema", "json_object"):
            if isinstance(form.get("schema"), dict):
                form["schema"] = SIMPLE_SCHEMA
            structured = True
    if not structured:
        return
    for field in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if field not in body and not (chat and field != "max_output_tokens"):
            continue
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
WITHIN_WINDOW = 8192
"""A `max_tokens` that leaves a generated prompt room in the 24,000-token window."""


CLIENT_TOOL_KINDS = ("bash_", "text_editor_", "memory_")  # Anthropic-defined tools the client runs


def keep_the_stated_cross_field_rules(body: Any) -> None:
    """The document states the rules JSON Schema can express in the request schemas themselves, and
    the rest in prose (`CROSS_FIELD_RULES` and `SHAPE_RULE` in worker/surfaces/openapi_paths.py: numbers
    within 64 bits (`clamp_numbers`), a `tool_choice` names
    an offered tool and needs some, Anthropic's `max_tokens` exceeds `thinking.budget_tokens`, tool
    parameters are a valid JSON Schema), which a generator cannot read. This short list is kept here:
    a generated body is made to follow them, touching only values of a valid type, so that a
    schema-valid body is still expected to be accepted on every route."""
    if not isinstance(body, dict):
        return
    tools = body["tools"] if isinstance(body.get("tools"), list) else []
    names: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        client_kind = kind in ("custom", "function") or str(kind).startswith(
            ("bash_", "text_editor_", "memory_")
        )
        if isinstance(kind, str) and not client_kind:
            continue  # a server or built-in tool (web_search_*, ...): never offered to the model
        function = tool.get("function")
        holders = [tool, function] if isinstance(function, dict) else [tool]  # flat or nested tools
        for holder in holders:
            for key in ("parameters", "input_schema"):
                if isinstance(holder.get(key), dict):
                    holder[key] = dict(SIMPLE_PARAMETERS)
        holder = holders[-1] if "name" not in tool else tool
        if isinstance(holder.get("name"), str):
            names.append(holder["name"])
    items = body.get("input")
    if isinstance(items, list) and not any(isinstance(i, dict) and "role" in i for i in items):
        items.append({"role": "user", "content": "Hello"})  # the Responses API's input needs a message
    if body.get("previous_response_id") is not None:
        del body["previous_response_id"]  # names a stored response: a generator cannot know one
    choice = body.get("tool_choice")
    function = choice.get("function") if isinstance(choice, dict) else None
    named = isinstance(choice, dict) and (
        (isinstance(function, dict) and isinstance(function.get("name"), str))
        or isinstance(choice.get("name"), str)  # the Responses API's flat form
        if choice.get("type") == "function"
        else choice.get("type") == "any" or isinstance(choice.get("name"), str)
    )
    if not names and (choice == "required" or named):
        del body["tool_choice"]  # a choice among no tools
    if names and isinstance(choice, dict):
        if isinstance(choice.get("function"), dict) and isinstance(choice["function"].get("name"), str):
            choice["function"]["name"] = names[0]
        if choice.get("type") in ("tool", "function") and isinstance(choice.get("name"), str):
            choice["name"] = names[0]
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("budget_tokens") is not None:
        budget: Any = thinking.get("budget_tokens")
        limit: Any = body.get("max_tokens")
        if whole(budget) and whole(limit) and limit <= budget:
            if budget < 2**63 - 1:
                body["max_tokens"] = int(budget) + 1
            else:  # no room above it: the smallest budget instead
                thinking["budget_tokens"] = 1
                body["max_tokens"] = max(int(limit), 2)
    for field in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if whole(body.get(field)) and body[field] > WITHIN_WINDOW:
            body[field] = WITHIN_WINDOW  # the prompt and `max_tokens` fit the context window
            if isinstance(thinking, dict) and whole(thinking.get("budget_tokens")):
                thinking["budget_tokens"] = min(thinking["budget_tokens"], WITHIN_WINDOW - 1)


def clamp_numbers(value: Any) -> Any:
    """Numbers past the signed 64-bit range, anywhere in the body, brought back into it: the document
    states that range in prose (no generator follows a rule stated for every value at every depth)."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = clamp_numbers(item)
    elif isinstance(value, list):
        value[:] = [clamp_numbers(item) for item in value]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return min(max(value, INT_MIN), INT_MAX)
    return value


def whole(value: Any) -> bool:
    """A JSON integer as a generator may write it: `5` or `5.0`, never a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


# The routes left out of "schema-valid request accepted" (every other check, and no-500, still applies):
# - the Cloudflare run route holds a tool's `parameters` to being a JSON Schema (object or boolean),
#   which the vendored Workers AI schema it describes does not state for every form of tool;
# - the admin API holds `expires_at` to a time in the future (relative to the clock) and its usage
#   query's `from` and `to` to ISO 8601 times or epoch seconds, rules stated in prose; its own tests
#   (tests/surfaces/test_admin*.py) cover each of its 400s;
# - the Responses API's request schema admits item and tool kinds the gateway then refuses (a `custom`
#   tool, a function-call output with no call); its own tests (tests/surfaces/test_responses*.py and
#   tests/dialects/test_openai_responses.py) cover those 400s.
NOT_YET_STATED = {
    "/v1/responses",
    "/client/v4/accounts/{account_id}/ai/run/{model}",
    "/admin/v1/keys",
    "/admin/v1/keys/{key_id}",
    "/admin/v1/keys/{key_id}/rotate",
    "/admin/v1/usage",
}


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_keeps_its_contract(case: schemathesis.Case[Any], contract_gateway: LiveServer) -> None:
    # A case generated as invalid keeps its body (a repair could make it valid: it must be refused),
    # but for a `guided_json` schema no model could answer.
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    make_structured_answers_possible(case.body, positive)
    if positive:
        keep_the_stated_cross_field_rules(case.body)
        clamp_numbers(case.body)
    excluded: list[schemathesis.CheckFunction] = (
        [positive_data_acceptance] if case.operation.path in NOT_YET_STATED else []
    )
    response = case.call_and_validate(base_url=contract_gateway.url, excluded_checks=excluded)
    assert response.status_code < 500


def test_the_served_document_is_the_one_tested(contract_gateway: LiveServer) -> None:
    import httpx

    served = httpx.get(f"{contract_gateway.url}/openapi.json").json()
    assert served == openapi_document(builtin_table(make_settings()))
