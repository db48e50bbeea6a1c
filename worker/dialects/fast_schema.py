"""The accept path of body validation: jsonschema-rs when it is importable, else jsonschema itself.

jsonschema-rs (Rust) answers "is this body valid?" 20-100x faster than the pure-Python validator, which
is why the request schemas are checked with it first. It is an accelerator, not a requirement: the
Cloudflare Python Worker runs on Pyodide, which ships `jsonschema` but has no `jsonschema-rs` build.
Without it the same question goes to a `jsonschema` validator of the same schema. Either way only the
yes/no comes from here; a refused body is always explained by `jsonschema` (`validation.violations_of`),
so clients read the same messages and paths with or without the accelerator.
"""

from __future__ import annotations

from typing import Any, Protocol

from jsonschema import Draft202012Validator

try:
    import jsonschema_rs
except ImportError:  # Pyodide (the Cloudflare Worker) has no build of it
    jsonschema_rs = None  # type: ignore[assignment]


class AcceptCheck(Protocol):
    def is_valid(self, instance: Any) -> bool: ...


ACCELERATED = jsonschema_rs is not None


def accept_check(schema: dict[str, Any]) -> AcceptCheck:
    """A compiled yes/no check of `schema` (draft 2020-12, formats not asserted, as in both libraries'
    defaults). jsonschema-rs may raise `ValueError` for a value it cannot take in; callers treat that
    as "not accepted here" and let `jsonschema` judge."""
    if jsonschema_rs is not None:
        fast: AcceptCheck = jsonschema_rs.Draft202012Validator(schema)
        return fast
    return Draft202012Validator(schema)
