"""The request schemas of the OpenAI and Anthropic surfaces, read and compiled once at import.

Violations are reported exactly as for `/:modelSlug` (every one, with its JSON pointer and a reason a
person can act on), by reusing `worker.dialects.validation`'s unpacking of `oneOf` failures.

As for `/:modelSlug`, the accept path is jsonschema-rs: a body it accepts is never walked by
jsonschema (which cost ~200 µs per OpenAI request, two thirds of the gateway's CPU on that route when
profiled under scripts/bench.sh); only a body it refuses goes to jsonschema, for the messages.
Schemas a body carries (tool parameters, response formats) repeat on every request of an agent loop,
so their metaschema check is cached by their canonical JSON.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from worker.dialects.limits import pointer as json_pointer
from worker.dialects.limits import shape_violations
from worker.dialects.limits import summary as summary
from worker.dialects.validation import read_schema, violations_of

OPENAI_CHAT_SCHEMA = read_schema("openai-chat-completions.request.schema.json")
ANTHROPIC_MESSAGES_SCHEMA = read_schema("anthropic-messages.request.schema.json")
_OPENAI = Draft202012Validator(OPENAI_CHAT_SCHEMA)
_ANTHROPIC = Draft202012Validator(ANTHROPIC_MESSAGES_SCHEMA)
_FAST_OPENAI = jsonschema_rs.Draft202012Validator(OPENAI_CHAT_SCHEMA)
_FAST_ANTHROPIC = jsonschema_rs.Draft202012Validator(ANTHROPIC_MESSAGES_SCHEMA)


def _check(
    fast: jsonschema_rs.Draft202012Validator, validator: Draft202012Validator, body: Any
) -> list[dict[str, str]]:
    shape = shape_violations(body)
    if shape:
        return shape
    if not isinstance(body, dict):
        return [{"path": "/", "message": "the body must be a JSON object"}]
    try:
        if fast.is_valid(body):
            return []
    except ValueError:  # a value the Rust side cannot take in: the slow path judges and explains it
        pass
    return violations_of(validator.iter_errors(body))


def openai_violations(body: Any) -> list[dict[str, str]]:
    return _check(_FAST_OPENAI, _OPENAI, body)


def anthropic_violations(body: Any) -> list[dict[str, str]]:
    return _check(_FAST_ANTHROPIC, _ANTHROPIC, body)


def embedded_schema_violations(schemas: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """Check the JSON schemas a body carries (tool parameters, response formats) against the 2020-12
    metaschema. A broken one is the client's mistake and gets a 400 naming it, rather than a failure
    somewhere downstream (an upstream's grammar compiler, the simulator's example maker)."""
    out = []
    for path, schema in schemas:
        try:
            canonical = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not encodable (an integer past 64 bits): no cache, check it as it is
            problem = _schema_problem_of(schema)
        else:
            problem = _schema_problem(canonical)
        if problem is not None:
            where, message = problem
            out.append({"path": path + where, "message": f"not a valid JSON schema: {message}"})
    return out


@lru_cache(maxsize=256)
def _schema_problem(canonical: bytes) -> tuple[str, str] | None:
    return _schema_problem_of(orjson.loads(canonical))


def _schema_problem_of(schema: Any) -> tuple[str, str] | None:
    """(JSON pointer within the schema, message) of the first metaschema violation, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return (json_pointer(error.absolute_path) if error.absolute_path else ""), error.message
    return None
