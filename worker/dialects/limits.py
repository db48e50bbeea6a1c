"""Bounds on the shape of a decoded body, checked by one cheap walk before any schema sees it.

Why: the body-size cap (`MAX_BODY_BYTES`) bounds the bytes, not the work. Two MB of `[1,1,...]` is a
million values, and a schema validator that reports every violation of every value spends tens of
seconds of the event loop on it; a JSON Schema nested a hundred levels deep makes the metaschema check
recurse past Python's stack limit (and orjson cannot encode more than 254 levels for the upstream); an
integer past 64 bits passes the schema and then cannot be encoded for the upstream. The walk refuses all
of them before any of that code runs, in time linear in the values it visits, never more than
`MAX_VALUES` of them.

The caps leave room for every real request: Claude Code sends about two dozen tools whose schemas nest
well under 20 levels; a long agent conversation has hundreds of messages, a few thousand at most.
docs/deploying.md#client-limits lists them. Violation lists are bounded too (`MAX_VIOLATIONS`,
`MAX_TEXT`), so that an error answer stays a few KiB whatever the body was.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64
"""Most levels of nesting (arrays and objects) in a body; the body itself is level 1."""
MAX_ITEMS = 10_000
"""Most items in one array, or members in one object."""
MAX_VALUES = 200_000
"""Most values (of any type, at any depth) in one body."""
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Numbers must fit a signed 64-bit integer (what upstreams and orjson's encoder take)."""
MAX_VIOLATIONS = 20
"""Most violations listed in one error answer; a last entry says when there were more."""
MAX_TEXT = 200
"""Longest path or message of one listed violation, in characters."""


class _Refused(Exception):
    """Raised at the first value past a cap; each level it unwinds through adds its key to `path`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[Any] = []


def shape_violations(body: Any) -> list[dict[str, str]]:
    """`[]` when `body` is within every cap, else one violation naming the first cap it exceeds."""
    budget = [MAX_VALUES]
    try:
        _walk(body, 1, budget)
    except _Refused as refused:
        return [{"path": clip(pointer(reversed(refused.path))), "message": refused.message}]
    return []


def deeper_than(value: Any, levels: int) -> bool:
    """Whether `value` nests more than `levels` arrays/objects deep (for a caller checking an embedded
    schema against a limit of its own); stops looking as soon as it knows."""
    if levels < 1:
        return isinstance(value, dict | list)
    if isinstance(value, dict):
        return any(deeper_than(item, levels - 1) for item in value.values())
    if isinstance(value, list):
        return any(deeper_than(item, levels - 1) for item in value)
    return False


def _walk(value: Any, depth: int, budget: list[int]) -> None:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        _check_scalar(value)
        return
    if depth > MAX_DEPTH:
        raise _Refused(f"the body nests deeper than {MAX_DEPTH} levels of arrays and objects")
    if len(value) > MAX_ITEMS:
        what = "object has" if isinstance(value, dict) else "array has"
        raise _Refused(f"the {what} {len(value)} entries; at most {MAX_ITEMS} are accepted")
    budget[0] -= len(value)
    if budget[0] < 0:
        raise _Refused(f"the body holds more than {MAX_VALUES} values")
    for key, item in items:
        # Scalars are checked here rather than by a call each (most of a body's values are strings,
        # then numbers and booleans): a call per value was most of the walk's cost.
        kind: Any = type(item)
        if kind is str or kind is bool or item is None:
            continue
        try:
            if kind is int or kind is float:
                if not INT_MIN <= item <= INT_MAX:
                    _check_scalar(item)
            else:
                _walk(item, depth + 1, budget)
        except _Refused as refused:
            refused.path.append(key)
            raise


def _check_scalar(value: Any) -> None:
    # orjson decodes integers past 64 bits as floats, so a float this large was most likely written as
    # an integer (`"max_tokens": 99999999999999999999999`); no field the gateway knows takes one.
    if isinstance(value, int | float) and not INT_MIN <= value <= INT_MAX:
        raise _Refused(f"the number is outside the signed 64-bit range ({INT_MIN} to {INT_MAX})")


def pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)


def clip(text: str) -> str:
    """At most `MAX_TEXT` characters: a path or message may quote a client's key or value."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def bounded(violations: list[dict[str, str]], more: bool = False) -> list[dict[str, str]]:
    """At most `MAX_VIOLATIONS` violations, each clipped; a last entry says if any were left out."""
    kept = [{"path": clip(v["path"]), "message": clip(v["message"])} for v in violations[:MAX_VIOLATIONS]]
    if more or len(violations) > MAX_VIOLATIONS:
        kept.append({"path": "/", "message": f"more violations not listed (at most {MAX_VIOLATIONS} are)"})
    return kept


def summary(violations: list[dict[str, str]]) -> str:
    """The first violation, and how many follow, for an error message's one line."""
    first = violations[0]
    text = f"{first['path']}: {first['message']}"
    if len(violations) > 1:
        text += f" (and {len(violations) - 1} more)"
    return text
