"""The request schemas of the OpenAI and Anthropic surfaces, read and compiled once at import.

Violations are reported exactly as for `/:modelSlug` (every one, with its JSON pointer and a reason a
person can act on), by reusing `worker.validation`'s unpacking of `oneOf` failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from worker.validation import _pointer, _violations

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "schemas"
OPENAI_CHAT_SCHEMA: dict[str, Any] = orjson.loads(
    (SCHEMA_DIR / "openai-chat-completions.request.schema.json").read_bytes()
)
ANTHROPIC_MESSAGES_SCHEMA: dict[str, Any] = orjson.loads(
    (SCHEMA_DIR / "anthropic-messages.request.schema.json").read_bytes()
)
_OPENAI = Draft202012Validator(OPENAI_CHAT_SCHEMA)
_ANTHROPIC = Draft202012Validator(ANTHROPIC_MESSAGES_SCHEMA)


def _check(validator: Draft202012Validator, body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"path": "/", "message": "the body must be a JSON object"}]
    return _violations(validator.iter_errors(body))


def openai_violations(body: Any) -> list[dict[str, str]]:
    return _check(_OPENAI, body)


def anthropic_violations(body: Any) -> list[dict[str, str]]:
    return _check(_ANTHROPIC, body)


def summary(violations: list[dict[str, str]]) -> str:
    first = violations[0]
    text = f"{first['path']}: {first['message']}"
    if len(violations) > 1:
        text += f" (and {len(violations) - 1} more)"
    return text


def embedded_schema_violations(schemas: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """Check the JSON schemas a body carries (tool parameters, response formats) against the 2020-12
    metaschema. A broken one is the client's mistake and gets a 400 naming it, rather than a failure
    somewhere downstream (an upstream's grammar compiler, the simulator's example maker)."""
    out = []
    for path, schema in schemas:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            out.append(
                {
                    "path": path + (_pointer(error.absolute_path) if error.absolute_path else ""),
                    "message": f"not a valid JSON schema: {error.message}",
                }
            )
    return out
