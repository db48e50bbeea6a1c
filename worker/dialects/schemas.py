"""The request schemas of the OpenAI (chat completions, Responses) and Anthropic surfaces, read and
compiled once at import.

Violations are reported exactly as for `/:modelSlug` (every one, with its JSON pointer and a reason a
person can act on), by reusing `worker.dialects.validation`'s unpacking of `oneOf` failures.

As for `/:modelSlug`, the accept path is jsonschema-rs where installed (`fast_schema`): a body it
accepts is never walked by jsonschema (which cost ~200 µs per OpenAI request, two thirds of the
gateway's CPU on that route when profiled under scripts/bench.sh); only a body it refuses goes to
jsonschema, for the messages. The schemas a body carries (tool parameters, response formats) are checked by
`worker.dialects.embedded_schema`, under the draft each one declares.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

# Re-exported for the dialects that import it from here (anthropic).
from worker.dialects.embedded_schema import embedded_schema_violations as embedded_schema_violations
from worker.dialects.fast_schema import AcceptCheck, accept_check
from worker.dialects.limits import shape_violations
from worker.dialects.limits import summary as summary
from worker.dialects.validation import read_schema, violations_of

OPENAI_CHAT_SCHEMA = read_schema("openai-chat-completions.request.schema.json")
ANTHROPIC_MESSAGES_SCHEMA = read_schema("anthropic-messages.request.schema.json")
OPENAI_RESPONSES_SCHEMA = read_schema("openai-responses.request.schema.json")
_OPENAI = Draft202012Validator(OPENAI_CHAT_SCHEMA)
_ANTHROPIC = Draft202012Validator(ANTHROPIC_MESSAGES_SCHEMA)
_FAST_OPENAI = accept_check(OPENAI_CHAT_SCHEMA)
_FAST_ANTHROPIC = accept_check(ANTHROPIC_MESSAGES_SCHEMA)
_RESPONSES = Draft202012Validator(OPENAI_RESPONSES_SCHEMA)
_FAST_RESPONSES = accept_check(OPENAI_RESPONSES_SCHEMA)


def _check(fast: AcceptCheck, validator: Draft202012Validator, body: Any) -> list[dict[str, str]]:
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


def responses_violations(body: Any) -> list[dict[str, str]]:
    return _check(_FAST_RESPONSES, _RESPONSES, body)
