"""The OpenAI chat-completions dialect (`/v1/chat/completions` and its aliases).

Parsing takes a decoded body, checks it against the vendored request schema (every violation with its
path), resolves `model` through the model table and builds the IR. Rendering is pure: a completion or
a stream of events in, bytes out. Reasoning travels in `reasoning_content`, as DeepSeek, DeepInfra and
vLLM's reasoning parser hand it out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from worker.config.models import ModelEntry, ModelTable
from worker.core.aggregate import Completion
from worker.core.errors import (
    BadRequest,
    GatewayError,
    LimitExceeded,
    NotFound,
    QuotaExceeded,
    Unauthorized,
    UpstreamTimeout,
)
from worker.core.ir import (
    ChatRequest,
    ContentPart,
    Event,
    Finish,
    ImagePart,
    Message,
    ReasoningDelta,
    SamplingParams,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    UsageEvent,
)
from worker.dialects.embedded_schema import embedded_schema_violations
from worker.dialects.schemas import openai_violations, summary
from worker.dialects.workers import openai_message
from worker.dialects.workers_stream import DONE, ChunkEncoder

# Accepted so that existing clients work unchanged, but not acted upon: named in a response header.
IGNORED_FIELDS = (
    "parallel_tool_calls",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "metadata",
    "store",
    "service_tier",
)
PENALTIES = ("frequency_penalty", "presence_penalty", "repetition_penalty")
EMPTY_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class OpenAIChat:
    """A parsed chat-completions call: the IR plus what only the rendering needs."""

    request: ChatRequest
    entry: ModelEntry
    model: str  # the model name as the client wrote it, echoed back as OpenAI does
    include_usage: bool
    ignored: tuple[str, ...]


# --- parsing -------------------------------------------------------------------------------------


def _content(raw: Any) -> str | tuple[ContentPart, ...]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    parts: list[ContentPart] = []
    for part in raw:
        if part["type"] == "image_url":
            parts.append(ImagePart(part["image_url"]["url"]))
        else:
            parts.append(TextPart(part["text"]))
    return tuple(parts)


def _message(raw: Mapping[str, Any]) -> Message:
    """One turn. Only the fields the schema checks for the turn's role are read: `tool_calls` of an
    assistant turn, `tool_call_id` of a tool turn (on other roles they are unchecked, and ignored)."""
    role = raw["role"]
    calls: tuple[ToolCall, ...] = ()
    if role == "assistant":
        calls = tuple(
            ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in raw.get("tool_calls") or ()
        )
    return Message(
        role="system" if role == "developer" else role,
        content=_content(raw.get("content")),
        tool_call_id=raw["tool_call_id"] if role == "tool" else None,
        tool_calls=calls,
        name=raw.get("name"),
    )


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw == "required" and not tools:
            raise BadRequest("tool_choice 'required' needs at least one tool", {"param": "tool_choice"})
        return ToolChoice(raw)  # type: ignore[arg-type]  # the schema allows only the three modes
    name = raw["function"]["name"]
    if all(tool.name != name for tool in tools):
        raise BadRequest(
            f"tool_choice names '{name[:64]}', which is not in 'tools'", {"param": "tool_choice"}
        )
    return ToolChoice("function", name)


def _whole(value: Any) -> int | None:
    """JSON Schema counts 5.0 as an integer; the IR wants a real int."""
    return None if value is None else int(value)


def _embedded_schemas(body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found = [
        (f"/tools/{i}/function/parameters", t["function"]["parameters"])
        for i, t in enumerate(body.get("tools") or ())
        if "parameters" in t["function"]
    ]
    response_format = body.get("response_format") or {}
    if "schema" in (response_format.get("json_schema") or {}):
        found.append(("/response_format/json_schema/schema", response_format["json_schema"]["schema"]))
    return found


def resolve_model(table: ModelTable, name: str) -> ModelEntry:
    """The model table entry `model` names, or OpenAI's 404 (`model_not_found`, the served names listed)."""
    entry = table.resolve(name)
    if entry is None:
        raise NotFound(
            f"The model '{name[:80]}' does not exist", {"param": "model", "models": sorted(table.entries)}
        )
    return entry


def parse_request(body: Any, table: ModelTable) -> OpenAIChat:
    violations = openai_violations(body) or embedded_schema_violations(_embedded_schemas(body))
    if violations:
        raise BadRequest(f"Invalid request: {summary(violations)}", violations)
    n = body.get("n")
    if n not in (None, 1):
        raise BadRequest("Only n=1 is supported: ask again for more choices", {"param": "n"})
    entry = resolve_model(table, body["model"])
    tools = tuple(
        ToolSpec(
            t["function"]["name"],
            t["function"].get("description", ""),
            t["function"].get("parameters") or EMPTY_PARAMETERS,
        )
        for t in body.get("tools") or ()
    )
    stop = body.get("stop")
    params = SamplingParams(
        max_tokens=_whole(body.get("max_completion_tokens") or body.get("max_tokens"))
        or entry.default_max_tokens,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=_whole(body.get("top_k")),
        seed=_whole(body.get("seed")),
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        **{name: body[name] for name in PENALTIES if body.get(name) is not None},
    )
    response_format = body.get("response_format") or {"type": "text"}
    schema = None
    if response_format["type"] == "json_schema":
        schema = response_format["json_schema"].get("schema") or {"type": "object"}
    request = ChatRequest(
        model=entry.slug,
        messages=tuple(_message(m) for m in body["messages"]),
        stream=bool(body.get("stream")),
        params=params,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_schema=schema,
        schema_field="response_format",
        json_mode=response_format["type"] == "json_object",
        reasoning="separate",
        user=body.get("user"),
    )
    options = body.get("stream_options") or {}
    ignored = tuple(name for name in IGNORED_FIELDS if body.get(name) not in (None, False))
    return OpenAIChat(request, entry, body["model"], bool(options.get("include_usage")), ignored)


# --- rendering a whole answer ---------------------------------------------------------------------


def render_completion(completion: Completion, model: str, request_id: str) -> dict[str, Any]:
    message = openai_message(completion, completion.text)
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": completion.finish_reason}
        ],
        "usage": completion.usage.as_dict() if completion.usage else None,
    }


# --- errors -------------------------------------------------------------------------------------------


def _param(error: GatewayError) -> str | None:
    detail = error.detail
    if isinstance(detail, Mapping) and isinstance(detail.get("param"), str):
        return str(detail["param"])
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        path = str(detail[0].get("path", "/")).strip("/")
        return path.replace("/", ".") or None
    return None


def error_body(error: GatewayError) -> dict[str, Any]:
    if isinstance(error, Unauthorized):
        kind, code = "invalid_request_error", "invalid_api_key"
    elif isinstance(error, NotFound):
        kind, code = "invalid_request_error", "model_not_found"
    elif isinstance(error, QuotaExceeded):
        kind, code = "insufficient_quota", "insufficient_quota"
    elif isinstance(error, LimitExceeded) and error.limit in ("requests", "tokens"):
        kind, code = error.limit, "rate_limit_exceeded"  # OpenAI types its own rate limits this way
    elif error.status == 429:
        kind, code = "rate_limit_error", "rate_limit_exceeded"
    elif error.status < 500:
        kind, code = "invalid_request_error", error.code
    else:
        kind, code = "server_error", error.code
    message = error.message
    if isinstance(error.detail, str):
        message = f"{message}: {error.detail}"
    return {"error": {"message": message, "type": kind, "param": _param(error), "code": code}}


def error_status(error: GatewayError) -> int:
    """OpenAI's statuses: a timeout is a 504 (the `/:modelSlug` contract folds it into 500)."""
    return 504 if isinstance(error, UpstreamTimeout) else error.status


def error_event(error: GatewayError) -> bytes:
    return b"data: " + orjson.dumps(error_body(error)) + b"\n\n"


# --- rendering a stream ---------------------------------------------------------------------------


class ChatStreamEncoder(ChunkEncoder):
    """`chat.completion.chunk` events: role first, content or `reasoning_content` deltas, tool-call
    deltas, a finish chunk, a usage chunk when `stream_options.include_usage` asked for it, [DONE]."""

    __slots__ = ("_include_usage",)

    def __init__(self, model: str, request_id: str, include_usage: bool) -> None:
        super().__init__(model, request_id, logprobs=True)
        self._include_usage = include_usage

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ReasoningDelta):
            return self._reasoning(event.text)
        if isinstance(event, ToolCallDelta):
            return self._tool_call(event)
        if isinstance(event, Finish):
            return self._choice({}, event.reason)
        if isinstance(event, UsageEvent):
            return self._usage(event.usage) if self._include_usage else DONE
        return b""
