"""Structured output: the answer to a `guided_json` request must be JSON that fits the schema.

The upstream is asked for it (`response_format: json_schema`), but not every server enforces it and a
`max_tokens` cut breaks any JSON, so the gateway checks the final answer itself. Schemas are compiled
once: validators are cached by the schema's canonical JSON, so a client sending the same schema on
every request pays for compiling it once per process. A schema that is not a valid JSON schema is the
client's mistake (400) and is found before anything is sent upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from worker.core.errors import BadRequest, GatewayError, UpstreamBadResponse

Validator = Any  # jsonschema's validator classes share no public base type


class StructuredOutputMismatch(UpstreamBadResponse):
    code = "structured_output_mismatch"
    message = "The model's answer does not match the requested JSON schema"


@lru_cache(maxsize=128)
def _compiled(canonical: bytes) -> Validator:
    schema = orjson.loads(canonical)
    cls = validator_for(schema, default=Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def compile_schema(schema: Mapping[str, Any], field: str = "guided_json") -> Validator:
    """The validator of `schema` under the draft it declares; `field` names the request field it came
    from in the error of a broken one (the dialects' own check, `worker.dialects.embedded_schema`,
    normally refuses such a schema before this)."""
    try:
        return _compiled(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    except SchemaError as exc:
        raise BadRequest(
            f"Invalid payload: /{field} is not a valid JSON schema ({exc.message[:200]})",
            [{"path": f"/{field}", "message": "not a valid JSON schema"}],
        ) from exc
    except TypeError as exc:
        raise BadRequest(f"Invalid payload: /{field} cannot be encoded as JSON") from exc


class StructuredOutputCutOff(BadRequest):
    """The answer ended at the client's own `max_tokens` before its JSON was complete. Asking again
    with the same limit cannot help, so this is the client's to fix (400), not an upstream failure."""

    code = "max_tokens_too_small"
    message = "The JSON answer was cut off by max_tokens; raise max_tokens"


def check_answer(
    validator: Validator, text: str, cut_off: bool, field: str = "guided_json"
) -> GatewayError | None:
    """The mismatch of `text` against the schema, or None when it fits; `field` is the request field
    the client gave the schema in (`guided_json`, `response_format`), named in the message."""
    hint = " (the answer was cut off by max_tokens)" if cut_off else ""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        if cut_off:
            return StructuredOutputCutOff()
        return StructuredOutputMismatch("The model's answer is not valid JSON")
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return None
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    return StructuredOutputMismatch(
        f"The model's answer does not match the {field} schema at {where}: {error.message[:200]}{hint}",
        [{"path": where, "message": error.message[:200]}],
    )
