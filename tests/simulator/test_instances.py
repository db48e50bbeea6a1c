"""The simulator's instances fit the schemas real clients send, checked under each schema's own draft."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for

from worker.simulator.instances import instance

DRAFT_07 = "http://json-schema.org/draft-07/schema#"

SCHEMAS: dict[str, dict[str, Any]] = {
    "pydantic refs, nullable optional": {
        "$defs": {
            "Stop": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
        },
        "type": "object",
        "properties": {
            "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
            "note": {"anyOf": [{"type": "null"}, {"type": "string"}], "default": None},
        },
        "required": ["stops"],
    },
    "draft-07 definitions and tuple": {
        "$schema": DRAFT_07,
        "definitions": {"n": {"type": "number", "minimum": 3.5}},
        "type": "array",
        "items": [{"$ref": "#/definitions/n"}, {"type": "string", "enum": ["a", "b"]}],
        "additionalItems": False,
        "minItems": 2,
    },
    "2020-12 prefixItems with more items": {
        "type": "array",
        "prefixItems": [{"type": "boolean"}, {"const": "x"}],
        "items": {"type": "integer", "multipleOf": 5, "minimum": 7},
        "minItems": 4,
        "uniqueItems": True,
    },
    "allOf merged, oneOf": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]}}},
        ],
        "required": ["b"],
    },
    "formats": {
        "type": "object",
        "properties": {
            name: {"type": "string", "format": name}
            for name in ("date-time", "date", "email", "uri", "uuid", "ipv4", "ipv6", "hostname")
        },
        "required": ["date-time", "email", "uri", "uuid"],
        "additionalProperties": False,
    },
    "lengths and patterns": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[0-9]+$"},
            "long": {"type": "string", "minLength": 12},
            "short": {"type": "string", "maxLength": 2},
        },
        "required": ["code", "long", "short"],
    },
    "required without properties": {"type": "object", "required": ["id"]},
    "recursive tree": {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            }
        },
    },
    "required recursive optional (pydantic linked list)": {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
                "required": ["next"],
            }
        },
        "$ref": "#/$defs/Node",
    },
    "nullable type list": {"type": ["null", "integer"], "maximum": 0},
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_the_instance_fits_its_schema(name: str) -> None:
    schema = SCHEMAS[name]
    cls = validator_for(schema, default=Draft202012Validator)
    value = instance(schema)
    errors = [e.message for e in cls(schema, format_checker=FormatChecker()).iter_errors(value)]
    assert errors == [], (value, errors)


def test_every_property_is_written_and_tuples_keep_their_positions() -> None:
    value = instance(SCHEMAS["draft-07 definitions and tuple"])
    assert value == [3.5, "a"]
    assert set(instance(SCHEMAS["pydantic refs, nullable optional"])) == {"stops", "note"}
