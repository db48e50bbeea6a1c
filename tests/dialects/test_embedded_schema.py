"""Schemas inside a body are checked under the draft they declare, on every route that carries them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_settings
from worker.config.models import builtin_table
from worker.core.errors import BadRequest
from worker.dialects import anthropic, openai_chat, workers
from worker.dialects.embedded_schema import embedded_schema_violations

TABLE = builtin_table(make_settings())
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
# What zod 4 writes for `z.object({position: z.tuple([z.number(), z.number()])})`.
ZOD_TUPLE: dict[str, Any] = {
    "$schema": DRAFT_07,
    "type": "object",
    "properties": {
        "position": {
            "type": "array",
            "items": [{"type": "number"}, {"type": "number"}],
            "additionalItems": False,
            "minItems": 2,
            "maxItems": 2,
        }
    },
    "required": ["position"],
    "additionalProperties": False,
}
HI = [{"role": "user", "content": "hi"}]


def test_a_draft_07_tuple_is_valid_under_draft_07() -> None:
    assert embedded_schema_violations([("/s", ZOD_TUPLE)]) == []


def test_the_same_tuple_without_schema_is_checked_under_2020_12() -> None:
    """2020-12 is the draft when none is named: there `items` must be one schema, not a list."""
    bare = {k: v for k, v in ZOD_TUPLE.items() if k != "$schema"}
    [violation] = embedded_schema_violations([("/s", bare)])
    assert violation["path"] == "/s/properties/position/items"


@pytest.mark.parametrize(
    ("declared", "schema"),
    [
        ("https://json-schema.org/draft/2019-09/schema", {"type": "array", "items": [{"type": "string"}]}),
        (
            "https://json-schema.org/draft/2020-12/schema",
            {"type": "array", "prefixItems": [{"type": "string"}]},
        ),
        ("http://json-schema.org/draft-07/schema", {"definitions": {"a": {"type": "string"}}}),
    ],
)
def test_each_draft_is_checked_by_its_own_rules(declared: str, schema: dict[str, Any]) -> None:
    assert embedded_schema_violations([("/s", {"$schema": declared, **schema})]) == []


def test_a_draft_07_schema_is_still_checked() -> None:
    broken = {"$schema": DRAFT_07, "type": "object", "properties": {"a": {"type": "text"}}}
    [violation] = embedded_schema_violations([("/s", broken)])
    assert violation["path"] == "/s/properties/a/type"


@pytest.mark.parametrize("declared", ["https://example.com/my-draft", 7])
def test_a_schema_naming_no_known_draft_is_refused(declared: Any) -> None:
    [violation] = embedded_schema_violations([("/s", {"$schema": declared, "type": "object"})])
    assert violation["path"] == "/s/$schema"
    assert "draft-07, 2019-09 or 2020-12" in violation["message"]


def test_openai_response_format_and_tool_parameters_take_draft_07() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": ZOD_TUPLE}}
    response_format = {"type": "json_schema", "json_schema": {"name": "r", "schema": ZOD_TUPLE}}
    body = {"model": "qwq-32b", "messages": HI, "tools": [tool], "response_format": response_format}
    chat = openai_chat.parse_request(body, TABLE)
    assert chat.request.response_schema == ZOD_TUPLE
    assert chat.request.schema_field == "response_format"


def test_anthropic_input_schema_takes_draft_07() -> None:
    body = {
        "model": "qwq-32b",
        "max_tokens": 50,
        "messages": HI,
        "tools": [{"name": "f", "input_schema": ZOD_TUPLE}],
    }
    assert anthropic.parse_request(body, TABLE).request.tools[0].parameters == ZOD_TUPLE


def test_workers_guided_json_takes_draft_07_and_refuses_a_bare_tuple() -> None:
    workers.check_embedded_schemas({"guided_json": ZOD_TUPLE})
    bare = {k: v for k, v in ZOD_TUPLE.items() if k != "$schema"}
    with pytest.raises(BadRequest) as refused:
        workers.check_embedded_schemas({"guided_json": bare})
    assert refused.value.detail[0]["path"] == "/guided_json/properties/position/items"
