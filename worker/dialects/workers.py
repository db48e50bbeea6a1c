"""The `POST /:modelSlug` dialect: Workers AI input in, `{"response"}` or OpenAI `choices` out.

Parsing takes a body already checked by `worker.dialects.validation` and builds the IR. Rendering is pure:
a completion or a stream of events in, bytes out, no I/O, so each encoder is tested byte for byte.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, GatewayError, UpstreamBadResponse
from worker.core.ir import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    ReasoningMode,
    ResponseShape,
    SamplingParams,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from worker.dialects.embedded_schema import embedded_schema_violations
from worker.dialects.schemas import summary
from worker.dialects.validation import MESSAGES_BRANCH, PROMPT_BRANCH

INTEGER_FIELDS = frozenset({"max_tokens", "top_k", "seed"})
SAMPLING_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
)


# Every top-level field the gateway reads: the schema's own (both branches) and `tool_choice`, which the
# schema lacks but clients send. Anything else is accepted, as Workers AI does, and named in the
# `X-Gateway-Ignored-Fields` header so that a client can see it had no effect.
KNOWN_FIELDS = (
    frozenset(MESSAGES_BRANCH["properties"]) | frozenset(PROMPT_BRANCH["properties"]) | {"tool_choice"}
)
MAX_IGNORED_NAMED = 16
_HEADER_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


# --- parsing -------------------------------------------------------------------------------------


def ignored_fields(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The top-level fields of a body that the gateway does not act on, for the header. Only names a
    header can carry as they are are written (at most 16, each at most 64 characters); the rest are
    counted, so a body with thousands of odd keys cannot make the header large or unsafe."""
    unknown = [name for name in body if name not in KNOWN_FIELDS]
    if not unknown:
        return ()
    named = [n for n in unknown if 0 < len(n) <= 64 and _HEADER_SAFE.issuperset(n)][:MAX_IGNORED_NAMED]
    rest = len(unknown) - len(named)
    return (*named, f"+{rest} more") if rest else tuple(named)


def embedded_schemas(body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The JSON schemas in a Workers AI body: `guided_json` and each tool's parameters (flat or nested)."""
    found: list[tuple[str, Any]] = []
    if "guided_json" in body:
        found.append(("/guided_json", body["guided_json"]))
    for i, tool in enumerate(body.get("tools", ())):
        if "parameters" in tool:
            found.append((f"/tools/{i}/parameters", tool["parameters"]))
        elif isinstance(tool.get("function"), dict) and "parameters" in tool["function"]:
            found.append((f"/tools/{i}/function/parameters", tool["function"]["parameters"]))
    return found


def with_model_default(
    checked: dict[str, Any], body: Mapping[str, Any], default: int | None
) -> dict[str, Any]:
    """`checked` (the body with the schema's defaults) with the model's own `default_max_tokens` in
    place of the schema's 256 when the client named no `max_tokens` and the model table sets one."""
    if default is None or "max_tokens" in body:
        return checked
    return {**checked, "max_tokens": default}


def check_embedded_schemas(body: Mapping[str, Any], tools: bool = True) -> None:
    """Refuse a body whose schemas are not valid under the draft each declares (400, every one named).
    `tools=False` checks `guided_json` alone: `/{slug}` has always passed tool parameters on unjudged, as
    its published contract (GET /openapi.json) promises, and keeps doing so."""
    found = embedded_schemas(body)
    violations = embedded_schema_violations(found if tools else [f for f in found if f[0] == "/guided_json"])
    if violations:
        raise BadRequest(f"Invalid payload: {summary(violations)}", violations)


def _part(raw: Mapping[str, Any]) -> ContentPart:
    image = raw.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else None
    if raw.get("type") == "image_url":
        if not isinstance(url, str):
            raise BadRequest("Invalid payload: an image_url part needs image_url.url")
        return ImagePart(url)
    if isinstance(url, str) and "text" not in raw:
        return ImagePart(url)
    return TextPart(str(raw.get("text", "")))


def _content(raw: Any) -> str | tuple[ContentPart, ...]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        return (_part(raw),)
    return tuple(_part(p) for p in raw)


def _function_or_self(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Tools and calls come flat (`{name, ...}`) or OpenAI-nested (`{type, function: {name, ...}}`).

    A flat object wins when it carries its own `name`: the schema lets a flat tool have any other
    members, an unrelated `function` member included."""
    function = raw.get("function")
    if "name" in raw or not isinstance(function, Mapping):
        return raw
    return function


def _tool(raw: Mapping[str, Any]) -> ToolSpec:
    spec = _function_or_self(raw)
    return ToolSpec(
        name=str(spec["name"]),
        description=str(spec.get("description", "")),
        parameters=spec.get("parameters", {"type": "object", "properties": {}}),
    )


def _tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    """Assistant history turns may carry OpenAI-style `tool_calls` (not in the schema, but common)."""
    if not isinstance(raw, list):
        return ()
    calls = []
    for i, call in enumerate(raw):
        if not isinstance(call, Mapping):
            continue
        function = _function_or_self(call)
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = orjson.dumps(arguments).decode()
        calls.append(ToolCall(str(call.get("id") or f"call{i:06d}"), str(function.get("name")), arguments))
    return tuple(calls)


def _tool_choice(raw: Any) -> ToolChoice | None:
    """`tool_choice` is not in the Workers schema; it is accepted in OpenAI's forms because clients
    send it and prompt-mode tools need to know whether a call is required."""
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    function = raw.get("function") if isinstance(raw, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if isinstance(name, str) and name:
        return ToolChoice("function", name)
    raise BadRequest(
        "Invalid payload: /tool_choice must be 'auto', 'none', 'required' or "
        '{"type": "function", "function": {"name": ...}}',
        [{"path": "/tool_choice", "message": "not a valid tool choice"}],
    )


def parse_request(body: Mapping[str, Any], slug: str, reasoning: ReasoningMode | None = None) -> ChatRequest:
    if "functions" in body:
        raise BadRequest(
            "Invalid payload: 'functions' (code-defined functions) is not supported by this gateway; "
            "describe callable tools with 'tools' instead",
            [{"path": "/functions", "message": "not supported; use 'tools'"}],
        )
    values = {name: body[name] for name in SAMPLING_FIELDS if name in body}
    for name in INTEGER_FIELDS & values.keys():
        # JSON Schema counts 5.0 as an integer; everything downstream wants a real int.
        values[name] = int(values[name])
    params = SamplingParams(**values)
    raw = bool(body.get("raw", False))
    prompt = body.get("prompt")
    if prompt is not None and not raw:
        messages: tuple[Message, ...] = (Message(role="user", content=prompt),)
        prompt = None
    else:
        messages = tuple(
            Message(
                role=m["role"],
                content=_content(m.get("content")),
                tool_call_id=m.get("tool_call_id"),
                tool_calls=_tool_calls(m.get("tool_calls")),
            )
            for m in body.get("messages", ())
        )
    return ChatRequest(
        model=slug,
        messages=messages,
        prompt=prompt,
        raw=raw,
        stream=bool(body.get("stream", False)),
        params=params,
        tools=tuple(_tool(t) for t in body.get("tools", ())),
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_schema=body.get("guided_json"),
        reasoning=reasoning,
    )


# --- rendering a whole answer ---------------------------------------------------------------------


def tool_call_object(call: ToolCall) -> dict[str, Any]:
    """The Workers shape of a tool call: arguments as an object, so they must be valid JSON."""
    try:
        arguments = orjson.loads(call.arguments) if call.arguments.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse(
            f"The upstream's call to '{call.name}' has arguments that are not valid JSON"
        ) from exc
    if not isinstance(arguments, dict):
        raise UpstreamBadResponse(
            f"The upstream's call to '{call.name}' has arguments that are not a JSON object"
        )
    return {"name": call.name, "arguments": arguments}


def openai_message(completion: Completion, text: str) -> dict[str, Any]:
    """The assistant message of an OpenAI chat completion, shared by both surfaces that answer in it:
    content is null only beside tool calls, reasoning goes in `reasoning_content`."""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    if completion.tool_calls:
        message["tool_calls"] = [openai_tool_call(c) for c in completion.tool_calls]
    elif message["content"] is None:
        message["content"] = ""
    return message


def openai_tool_call(call: ToolCall) -> dict[str, Any]:
    tool_call_object(call)  # the same validity check, whichever shape is asked for
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def render_completion(
    completion: Completion, shape: ResponseShape, model: str, request_id: str
) -> dict[str, Any]:
    usage = completion.usage.as_dict() if completion.usage else None
    text = completion.text  # inline reasoning is already in the text (worker.answer.reasoning)
    if shape == "workers":
        out: dict[str, Any] = {"response": text}
        if completion.reasoning:  # reasoning mode `separate`
            out["reasoning"] = completion.reasoning
        if completion.tool_calls:
            out["tool_calls"] = [tool_call_object(c) for c in completion.tool_calls]
        out["usage"] = usage
        return out
    message = openai_message(completion, text)
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": completion.finish_reason}],
        "usage": usage,
    }


def render_error(error: GatewayError) -> dict[str, Any]:
    """`{error, detail}`: `detail` is always there, as the contract's clients read it; an error with
    nothing more to say carries its machine code, as a stream's error event does."""
    detail = error.detail if error.detail is not None else {"code": error.code}
    return {"error": error.message, "detail": detail}
