"""Validation of `/:modelSlug` bodies against the vendored Workers AI schema for qwq-32b.

The schema is read and compiled once, at import. A rejected body gets every violation with its JSON
pointer and a reason a person can act on: `oneOf` failures are unpacked into the errors of the branch
the body was meant for (the one whose key it carries), instead of jsonschema's bare
"is not valid under any of the given schemas".

Two rules are added on top of the published schema, because the schema alone lets them through and no
upstream could serve them: a body may not carry both `prompt` and `messages` (the schema's Prompt branch
does not look at `messages`, so `{"prompt": "x", "messages": 5}` would pass), and every message needs one
of the roles `system`, `user`, `assistant`, `tool`, every tool a non-empty name, and `raw: true`
excludes `tools` and `guided_json` (a raw prompt has no chat template and no chat answer),
`max_tokens` is at least 1 (the schema sets no minimum; no upstream accepts less), and an image URL is a
`data:image/...` URI (the schema's pattern, `^data:*`, lets any text starting `data` through).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from worker.core.errors import BadRequest
from worker.dialects.fast_schema import accept_check
from worker.dialects.limits import MAX_VIOLATIONS, bounded, shape_violations, summary
from worker.dialects.limits import pointer as json_pointer


def read_schema(name: str) -> dict[str, Any]:
    """One vendored schema: the repository's `schemas/` folder, shipped as the `worker.schemas` package
    (setup.py), so an installed gateway reads it from the package, not from a source tree."""
    try:
        folder: Traversable = files("worker.schemas")
    except ModuleNotFoundError:
        # A checkout used without installing it (PYTHONPATH=.), or installed before the mapping existed:
        # the folder itself. An installed wheel never gets here, and has no such folder to fall back on.
        folder = Path(__file__).resolve().parent.parent.parent / "schemas"
    data: dict[str, Any] = orjson.loads(folder.joinpath(name).read_bytes())
    return data


INPUT_SCHEMA: dict[str, Any] = read_schema("qwq-32b.input.schema.json")
_BRANCHES: dict[str, dict[str, Any]] = {b["title"]: b for b in INPUT_SCHEMA["oneOf"]}
PROMPT_BRANCH = _BRANCHES["Qwen_Qwq_32B_Prompt"]
MESSAGES_BRANCH = _BRANCHES["Qwen_Qwq_32B_Messages"]

_FULL = Draft202012Validator(INPUT_SCHEMA)
# The Prompt branch does not define `tools` or `functions`, so the schema lets anything through there.
# The gateway honours tools in the prompt form too, so it holds them to the Messages branch's rules.
SHARED_FIELDS: dict[str, Any] = {
    "properties": {name: MESSAGES_BRANCH["properties"][name] for name in ("tools", "functions")}
}
_SHARED = Draft202012Validator(SHARED_FIELDS)
_PROMPT = Draft202012Validator(PROMPT_BRANCH)
_MESSAGES = Draft202012Validator(MESSAGES_BRANCH)
# The accept path: the same schemas compiled by jsonschema-rs (Rust) where it is installed, ~20-100x
# faster than the pure-Python validator on a typical body (`fast_schema`). A body it rejects, or one
# the role rule rejects, takes the slow path above, which alone writes the messages a person reads.
_FAST_FULL = accept_check(INPUT_SCHEMA)
_FAST_PROMPT = accept_check(PROMPT_BRANCH)
_FAST_MESSAGES = accept_check(MESSAGES_BRANCH)
_FAST_SHARED = accept_check(SHARED_FIELDS)

ROLES = frozenset({"system", "user", "assistant", "tool"})

# Schema defaults, read from the schema itself so that a new vendored version brings its own.
DEFAULTS: dict[str, Any] = {
    name: prop["default"]
    for name, prop in MESSAGES_BRANCH["properties"].items()
    if "default" in prop and name in PROMPT_BRANCH["properties"]
}


IMAGE_PREFIX = "data:image/"


def image_url_problem(url: str) -> str:
    """Why `url` is refused as an image: only `data:image/...` URIs are (a model reads images only, and
    a `data:text/html` URI handed on as an image would be something else under an image's name)."""
    if url[:5].lower() == "data:":
        return f"image URLs must be data: URIs of an image type (data:image/...), not '{url[:30]}'"
    return "image URLs must be data: URIs (HTTP URLs are not accepted)"


def _reason(error: ValidationError) -> str:
    last = error.path[-1] if error.path else None
    if error.validator == "pattern" and last == "url":
        return image_url_problem(str(error.instance))
    if error.validator == "pattern" and last == "tool_call_id":
        return "tool_call_id must contain 9 letters or digits in a row (e.g. '000000001')"
    return str(error.message)


def _unpack(error: ValidationError) -> list[ValidationError]:
    """The errors that explain a failed `oneOf`/`anyOf`: those of the branch the value came closest to.

    A value that is of none of the branches' types gets one error naming them all. Otherwise the branch
    the value came closest to is the one the client meant (see `_branch_distance`: a content array
    with a bad image URL meant the array branch, not the string branch; a flat tool missing its
    description meant the flat branch), and its errors are unpacked in turn.
    """
    if error.validator not in {"oneOf", "anyOf"} or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    shallow_types = [
        errs[0].validator_value
        for errs in branches.values()
        if len(errs) == 1 and errs[0].validator == "type" and not errs[0].path
    ]
    if len(shallow_types) == len(branches):
        error.message = f"{error.instance!r:.60} is not of type {', '.join(map(repr, shallow_types))}"
        error.validator = "type"
        return [error]
    best = min(branches.values(), key=_branch_distance)
    return [leaf for sub in best for leaf in _unpack(sub)]


def _branch_distance(errors: list[ValidationError]) -> tuple[bool, int, int]:
    """How far a value is from a branch: a branch whose type it does not even have is farthest, then
    the fewer errors the closer, then the deeper they reach into the value the closer."""
    wrong_type = len(errors) == 1 and errors[0].validator == "type" and not errors[0].path
    return (wrong_type, len(errors), -max(len(e.path) for e in errors))


def violations_of(errors: Iterable[ValidationError]) -> list[dict[str, str]]:
    """The violations a validator found, at most `MAX_VIOLATIONS` of them (a body within the shape
    caps can still break a rule thousands of times; listing each would cost seconds and megabytes)."""
    pending = iter(errors)
    taken = list(islice(pending, MAX_VIOLATIONS))
    more = next(pending, None) is not None
    leaves = [leaf for error in taken for leaf in _unpack(error)]
    leaves.sort(key=lambda e: [str(p) for p in e.absolute_path])
    found = [{"path": json_pointer(leaf.absolute_path), "message": _reason(leaf)} for leaf in leaves]
    return bounded(found, more)


def _fail(violations: list[dict[str, str]]) -> BadRequest:
    violations = bounded(violations)
    return BadRequest(f"Invalid payload: {summary(violations)}", violations)


def validate_body(body: Any) -> dict[str, Any]:
    """Check a decoded body; return it with the schema's defaults filled in, or raise `BadRequest`."""
    shape = shape_violations(body)
    if shape:
        raise _fail(shape)
    if not isinstance(body, dict):
        raise _fail([{"path": "/", "message": f"the body must be a JSON object, not {_json_type(body)}"}])
    has_prompt, has_messages = "prompt" in body, "messages" in body
    if has_prompt and has_messages:
        raise _fail([{"path": "/", "message": "give either 'prompt' or 'messages', not both"}])
    if not has_prompt and not has_messages:
        raise _fail([{"path": "/", "message": "one of 'prompt' or 'messages' is required"}])
    fast = _FAST_PROMPT if has_prompt else _FAST_MESSAGES
    try:
        accepted = fast.is_valid(body) and _FAST_FULL.is_valid(body)
        if accepted and has_prompt and ("tools" in body or "functions" in body):
            accepted = _FAST_SHARED.is_valid(body)
    except ValueError:  # a value the Rust side cannot take in: let the slow path judge and explain it
        accepted = False
    if accepted:
        violations = _gateway_rule_violations(body, has_messages)
        if not violations:
            return {**DEFAULTS, **body}
        raise _fail(violations)
    branch = _PROMPT if has_prompt else _MESSAGES
    violations = violations_of(branch.iter_errors(body))
    if not violations and has_prompt:
        violations = violations_of(_SHARED.iter_errors(body))
    if not violations:
        violations = _gateway_rule_violations(body, has_messages)
    if not violations and not _FULL.is_valid(body):  # belt and braces: the published oneOf as a whole
        violations = violations_of(_FULL.iter_errors(body))
    if violations:
        raise _fail(violations)
    return {**DEFAULTS, **body}


def _gateway_rule_violations(body: Mapping[str, Any], has_messages: bool) -> list[dict[str, str]]:
    """The rules the gateway adds to a body the schema accepts (module docstring)."""
    violations = (
        _role_violations(body["messages"]) + _image_violations(body["messages"]) if has_messages else []
    )
    violations += _tool_name_violations(body.get("tools", ())) + _raw_violations(body)
    if body.get("max_tokens", 1) < 1:  # the schema sets no minimum; no upstream accepts one below 1
        violations.append({"path": "/max_tokens", "message": "max_tokens must be at least 1"})
    return violations


def _role_violations(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    out = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role is None:
            out.append({"path": f"/messages/{i}/role", "message": "'role' is required"})
        elif role not in ROLES:
            allowed = ", ".join(sorted(ROLES))
            out.append({"path": f"/messages/{i}/role", "message": f"{role!r} is not one of {allowed}"})
    return out


def _image_violations(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Every `image_url.url` of a content part (a list of parts, or one part) is a data:image/ URI."""
    out = []
    for i, message in enumerate(messages):
        content = message.get("content")
        parts = enumerate(content) if isinstance(content, list) else [(None, content)]
        for j, part in parts:
            image = part.get("image_url") if isinstance(part, Mapping) else None
            url = image.get("url") if isinstance(image, Mapping) else None
            if isinstance(url, str) and not url.startswith(IMAGE_PREFIX):
                where = f"/messages/{i}/content" + ("" if j is None else f"/{j}") + "/image_url/url"
                out.append({"path": where, "message": image_url_problem(url)})
    return out


def _tool_name_violations(tools: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A tool needs a non-empty name: the model calls it by that name, and no upstream accepts ''."""
    out = []
    for i, tool in enumerate(tools):
        flat = "name" in tool
        name = tool.get("name") if flat else tool.get("function", {}).get("name")
        if name == "":
            path = f"/tools/{i}/name" if flat else f"/tools/{i}/function/name"
            out.append({"path": path, "message": "a tool name may not be empty"})
    return out


RAW_EXCLUDES = ("tools", "guided_json")


def _raw_violations(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """A raw prompt goes to a text-completion endpoint as written: there is no chat template to put
    tools in and no chat answer to hold to a schema, so asking for either is refused, not dropped."""
    if body.get("raw") is not True:
        return []
    return [
        {"path": f"/{name}", "message": f"'{name}' cannot be combined with 'raw': true"}
        for name in RAW_EXCLUDES
        if name in body
    ]


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
