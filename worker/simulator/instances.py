"""Instances of a JSON schema: the simulator's structured output and tool-call arguments.

Real clients send the schemas their own schema libraries write, and check the answer against them: zod 4
(the Vercel AI SDK) writes draft-07 with tuples as `"items": [...]`, pydantic writes `$defs` and `$ref`,
`anyOf` with `null` for optional fields, and `format`s; LangChain passes pydantic's schemas on. So the
simulator answers with a value that fits such a schema, not merely one of the right top-level type:
references are followed (`#/$defs/...`, `#/definitions/...`, `#`), `allOf` branches are merged, the first
non-null branch of `anyOf`/`oneOf` is taken, tuples are filled position by position (`prefixItems`, or
draft-07's array `items` with `additionalItems`), and strings take the shape their `format`, length and
`pattern` ask for. Every property is written, required or not (always valid, and a client's optional
fields get exercised); a required name that `properties` does not describe gets a string.

Recursive schemas end: past `MAX_DEPTH` levels an array is as short and an object as small (required
members only) as the schema allows, and a nullable branch is taken as null.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 8

FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/",
    "uri-template": "https://example.com/{id}",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "regex": ".*",
    "json-pointer": "/example",
    "relative-json-pointer": "0",
}
# Tried in turn against a `pattern`; the first that matches is used.
PATTERN_CANDIDATES = ("example", "abc", "ABC", "123", "a1", "A1", "a-1", "a_1", "x@y.z", "1.0", "")


def instance(schema: Any) -> Any:
    """A small value that fits `schema` (the whole document: its `$ref`s resolve against it)."""
    return _Maker(schema).make(schema, 0)


class _Maker:
    __slots__ = ("_root",)

    def __init__(self, root: Any) -> None:
        self._root = root

    def _resolve(self, ref: str) -> Any:
        """A local reference (`#`, `#/$defs/Name`, `#/definitions/Name`); any other resolves to `{}`."""
        if not ref.startswith("#"):
            return {}
        node = self._root
        for raw in ref[1:].split("/")[1:]:
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return {}
        return node

    def _flatten(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """The schema with its `$ref` and `allOf` folded in: one set of keywords to generate from."""
        out = dict(schema)
        ref = out.pop("$ref", None)
        if isinstance(ref, str) and depth <= MAX_DEPTH * 4:
            target = self._resolve(ref)
            if isinstance(target, dict):
                out = _merge(self._flatten(target, depth + 1), out)
        for part in out.pop("allOf", None) or ():
            if isinstance(part, dict):
                out = _merge(out, self._flatten(part, depth + 1))
        return out

    def make(self, schema: Any, depth: int) -> Any:
        if schema is True or schema == {}:
            return "example"
        if not isinstance(schema, dict) or depth > MAX_DEPTH * 4:  # past that, no finite instance
            return None
        schema = self._flatten(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            branches = [b for b in schema.get(key) or () if isinstance(b, dict | bool)]
            if branches:
                # Deep in a recursive schema, a null branch (pydantic's `Optional["Node"]`) ends it.
                nulls = [b for b in branches if _is_null(b)] if depth >= MAX_DEPTH else []
                chosen = nulls[0] if nulls else next((b for b in branches if not _is_null(b)), branches[0])
                rest = {k: v for k, v in schema.items() if k != key}
                merged = _merge(rest, self._flatten(chosen, depth)) if isinstance(chosen, dict) else chosen
                return self.make(merged, depth)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = [r for r in schema.get("required") or () if isinstance(r, str)]
        names = list(props) if depth < MAX_DEPTH else [n for n in props if n in required]
        out = {name: self.make(props[name], depth + 1) for name in names}
        for name in required:
            out.setdefault(name, "example")
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        tuple_items = schema.get("prefixItems")
        rest = schema.get("items", True)
        if isinstance(rest, list):  # draft-07 and earlier: a tuple; `additionalItems` for the rest
            tuple_items, rest = rest, schema.get("additionalItems", True)
        tuple_items = tuple_items if isinstance(tuple_items, list) else []
        low = _int(schema.get("minItems"), 0)
        high = _int(schema.get("maxItems"), 10**6)
        wanted = max(low, len(tuple_items)) if tuple_items else max(low, 1)
        if depth >= MAX_DEPTH:
            wanted = max(low, len(tuple_items))
        if rest is False:
            wanted = min(wanted, len(tuple_items))
        out = [self.make(tuple_items[i], depth + 1) for i in range(min(wanted, len(tuple_items)))]
        extra = [self.make(rest, depth + 1) for _ in range(len(out), min(wanted, high))]
        if schema.get("uniqueItems"):
            step = rest.get("multipleOf", 1) if isinstance(rest, dict) else 1
            extra = [_vary(value, i, step) for i, value in enumerate(extra)]
        return out + extra


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Keywords of both; `properties` and `required` are combined, otherwise `base` wins."""
    out = {**extra, **base}
    if isinstance(base.get("properties"), dict) and isinstance(extra.get("properties"), dict):
        out["properties"] = {**extra["properties"], **base["properties"]}
    if isinstance(base.get("required"), list) and isinstance(extra.get("required"), list):
        out["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
    return out


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return "string"


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _number(schema: dict[str, Any], kind: str) -> int | float:
    """The smallest number the bounds allow, from 1 up (or the largest below a maximum under 1)."""
    low: float = 1
    if isinstance(schema.get("minimum"), int | float):
        low = max(1, schema["minimum"])
    exclusive = schema.get("exclusiveMinimum")
    if isinstance(exclusive, int | float) and not isinstance(exclusive, bool):
        low = max(low, exclusive + 1)
    high = schema.get("maximum")
    if isinstance(high, int | float) and low > high:
        low = high
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        low = math.ceil(low / step) * step
    if kind == "integer":
        return math.ceil(low)
    return float(low)


def _string(schema: dict[str, Any]) -> str:
    text = FORMATS.get(str(schema.get("format")), "example")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        text = next((c for c in (text, *PATTERN_CANDIDATES) if _matches(pattern, c)), text)
    low = _int(schema.get("minLength"), 0)
    high = _int(schema.get("maxLength"), 10**6)
    if len(text) < low:
        text += "x" * (low - len(text))
    return text[:high]


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _vary(value: Any, index: int, step: Any) -> Any:
    """Tell items apart for `uniqueItems`: the same kind of value, made distinct by its position."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value + index * (step if isinstance(step, int | float) and step > 0 else 1)
    if isinstance(value, str):
        return value if index == 0 else f"{value}{index}"
    if isinstance(value, dict):
        return {**value, "_": index} if index else value
    return value
