"""JSON schemas carried inside a request body, checked under the draft each one declares.

Clients send schemas of their own: a tool's parameters, an Anthropic tool's `input_schema`,
`response_format.json_schema.schema`, `guided_json`. Their generators do not agree on a draft: zod 4
(the Vercel AI SDK) writes `"$schema": "http://json-schema.org/draft-07/schema#"` and a tuple as
`"items": [...]`, which is valid draft-07 and invalid 2020-12 (where a tuple is `prefixItems` and
`items` must be one schema); pydantic and OpenAI's own helpers write no `$schema` at all. So each schema
is checked against the metaschema of the draft named by its top-level `$schema`, and against 2020-12's
when it names none. A `$schema` naming no draft that the checker knows is refused: checked under another
draft, the schema would mean something other than what its author wrote.

A broken schema is the client's mistake and gets a 400 naming where it is, rather than a failure
somewhere downstream (an upstream's grammar compiler, the simulator's example maker). Agent loops send
the same schemas on every request, so a verdict is cached by the schema's canonical JSON.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from worker.dialects.validation import json_pointer

DRAFTS = "draft-07, 2019-09 or 2020-12"
Validator = Any  # jsonschema's validator classes share no public base type


def draft_of(schema: Any) -> Validator | None:
    """The validator class of the draft a schema declares (2020-12 when it declares none), or None
    when its `$schema` names no draft known here."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return Draft202012Validator
    if not isinstance(schema["$schema"], str):
        return None
    return validator_for(schema, default=None)  # type: ignore[arg-type]  # None: "no draft known"


def embedded_schema_violations(schemas: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """One violation per broken schema among `(JSON pointer in the body, schema)` pairs: where in the
    body, and what is wrong under the schema's own draft."""
    out = []
    for path, schema in schemas:
        try:
            canonical = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not encodable (an integer past 64 bits): no cache, check it as it is
            problem = _problem_of(schema)
        else:
            problem = _problem(canonical)
        if problem is not None:
            where, message = problem
            out.append({"path": path + where, "message": f"not a valid JSON schema: {message}"})
    return out


@lru_cache(maxsize=256)
def _problem(canonical: bytes) -> tuple[str, str] | None:
    return _problem_of(orjson.loads(canonical))


def _problem_of(schema: Any) -> tuple[str, str] | None:
    """(JSON pointer within the schema, message) of the first metaschema violation, or None."""
    draft = draft_of(schema)
    if draft is None:
        named = str(schema["$schema"])[:120]
        return "/$schema", f"{named!r} names no JSON Schema draft known here; use {DRAFTS}"
    try:
        draft.check_schema(schema)
    except SchemaError as error:
        return (json_pointer(error.absolute_path) if error.absolute_path else ""), error.message
    return None
