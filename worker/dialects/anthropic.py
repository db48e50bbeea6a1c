"""The Anthropic Messages dialect (`POST /v1/messages`, `POST /v1/messages/count_tokens`).

Anthropic content blocks map onto the IR's chat turns (`worker.dialects.anthropic_blocks`): `system`
becomes a system turn, `tool_use` blocks become the assistant's tool calls (input as JSON text), and each
`tool_result` block becomes a `tool` turn. Which fields are acted on, ignored or refused is
`worker.dialects.anthropic_fields`. Reasoning is shown as `thinking` blocks only when the request turned
`thinking` on; otherwise it is left out, because Anthropic clients do not expect thinking they did not
ask for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from worker.config.models import ModelEntry, ModelTable
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest, ContextLengthExceeded, GatewayError, NotFound
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    FinishReason,
    Message,
    ReasoningDelta,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    Usage,
    UsageEvent,
)
from worker.core.tokenizer import prompt_tokens
from worker.dialects.anthropic_blocks import Blocks
from worker.dialects.anthropic_fields import client_tool, ignored_fields, refuse_unknown
from worker.dialects.schemas import anthropic_violations, embedded_schema_violations, summary
from worker.dialects.workers import tool_call_object

STOP_REASONS: Mapping[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}
CHOICES = {"auto": "auto", "any": "required", "none": "none"}


@dataclass(frozen=True, slots=True)
class AnthropicCall:
    request: ChatRequest
    entry: ModelEntry
    model: str
    thinking: bool
    ignored: tuple[str, ...]


# --- parsing -------------------------------------------------------------------------------------


def _system(raw: Any) -> list[Message]:
    if raw is None:
        return []
    text = raw if isinstance(raw, str) else "\n\n".join(b["text"] for b in raw)
    return [Message(role="system", content=text)] if text else []


def _tools(raw: list[Mapping[str, Any]], dropped: list[str]) -> tuple[ToolSpec, ...]:
    """Custom tools as declared; Anthropic-defined client tools (bash, text editor, memory) with the
    input the API defines for them; server-side tools left out (and named as ignored)."""
    tools = []
    for tool in raw:
        kind = tool.get("type")
        if kind is None or kind == "custom":
            tools.append(ToolSpec(tool["name"], tool.get("description", ""), tool["input_schema"]))
        elif (known := client_tool(kind)) is not None:
            tools.append(ToolSpec(tool["name"], known[0], known[1]))
        else:
            dropped.append(f"tools.{kind}")  # the schema keeps it short and plain
    return tuple(tools)


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    if raw is None:
        return None
    kind = raw["type"]
    if kind in ("any", "tool") and not tools:
        raise BadRequest(f"tool_choice '{kind}' needs at least one tool", [{"path": "/tool_choice"}])
    if kind == "tool":
        if all(t.name != raw["name"] for t in tools):
            raise BadRequest(f"tool_choice names '{raw['name'][:64]}', which is not in 'tools'")
        return ToolChoice("function", raw["name"])
    return ToolChoice(CHOICES[kind])  # type: ignore[arg-type]  # the three modes of CHOICES


def _shows_thinking(thinking: Mapping[str, Any] | None) -> bool:
    """Reasoning goes back as `thinking` blocks when the request turned thinking on (`enabled`,
    `adaptive`, `between_tools`) and did not ask for it to be omitted (Claude Code does)."""
    if not thinking or thinking["type"] == "disabled":
        return False
    return bool(thinking.get("display") != "omitted")


def _response_schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`output_config.format` (or the older beta `output_format`): a JSON schema the answer must meet."""
    form = (body.get("output_config") or {}).get("format") or body.get("output_format")
    return None if form is None else form["schema"]


def parse_request(body: Any, table: ModelTable, *, counting: bool = False) -> AnthropicCall:
    """Validate a Messages body and build the call. `counting`: the body of `count_tokens`, which
    has no `max_tokens`."""
    refuse_unknown(body)
    if counting and isinstance(body, dict):
        body = {**body, "max_tokens": 1}
    violations = anthropic_violations(body)
    if not violations:
        # Only a custom tool's schema reaches the model: an Anthropic-defined tool gets the schema the
        # API defines for it and a server tool is left out, so what they carry is never checked.
        schemas = [
            (f"/tools/{i}/input_schema", t["input_schema"])
            for i, t in enumerate(body.get("tools", ()))
            if "input_schema" in t and t.get("type", "custom") == "custom"
        ]
        form = _response_schema(body)
        if form is not None:
            schemas.append(("/output_config/format/schema", form))
        violations = embedded_schema_violations(schemas)
    if violations:
        raise BadRequest(f"Invalid request: {summary(violations)}", violations)
    thinking = body.get("thinking")
    budget = (thinking or {}).get("budget_tokens")
    if not counting and budget is not None and budget >= body["max_tokens"]:
        raise BadRequest("max_tokens must be greater than thinking.budget_tokens")
    entry = table.resolve(body["model"])
    if entry is None:
        raise NotFound(f"model: {body['model'][:80]}")
    dropped: list[str] = []
    tools = _tools(body.get("tools", ()), dropped)
    blocks = Blocks()
    messages = _system(body.get("system"))
    for raw in body["messages"]:
        messages.extend(blocks.turns(raw))
    dropped.extend(blocks.dropped)
    params = SamplingParams(
        max_tokens=int(body["max_tokens"]),  # JSON Schema counts 5.0 as an integer; the IR wants an int
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=None if body.get("top_k") is None else int(body["top_k"]),
        stop=tuple(body.get("stop_sequences", ())),
    )
    shows = _shows_thinking(thinking)
    request = ChatRequest(
        model=entry.slug,
        messages=tuple(messages),
        stream=bool(body.get("stream", False)),
        params=params,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_schema=_response_schema(body),
        reasoning="separate" if shows else "hidden",
        user=(body.get("metadata") or {}).get("user_id"),
    )
    return AnthropicCall(request, entry, body["model"], shows, ignored_fields(body, dropped))


def count_input_tokens(call: AnthropicCall) -> int:
    """`count_tokens`' answer: the prompt's tokens as QwQ's chat template renders it (system prompt and
    tools included), the figure the gateway reports as `input_tokens` (`worker.core.tokenizer`)."""
    return prompt_tokens(call.request)


# --- rendering ----------------------------------------------------------------------------------------


def stop_reason(finish: FinishReason, stop_sequence: str | None) -> str:
    return "stop_sequence" if stop_sequence is not None else STOP_REASONS.get(finish, "end_turn")


def usage_object(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}


def render_message(
    completion: Completion, call: AnthropicCall, request_id: str, stop_sequence: str | None = None
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if call.thinking and completion.reasoning:
        content.append({"type": "thinking", "thinking": completion.reasoning, "signature": ""})
    if completion.text or not completion.tool_calls:
        content.append({"type": "text", "text": completion.text})
    for tool_call in completion.tool_calls:
        parsed = tool_call_object(tool_call)
        content.append(
            {"type": "tool_use", "id": tool_call.id, "name": tool_call.name, "input": parsed["arguments"]}
        )
    return {
        "id": f"msg_{request_id}",
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": content,
        "stop_reason": stop_reason(completion.finish_reason, stop_sequence),
        "stop_sequence": stop_sequence,
        "usage": usage_object(completion.usage),
    }


ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    kind = ERROR_TYPES.get(error.status, "invalid_request_error" if error.status < 500 else "api_error")
    message = error.message
    if isinstance(error.detail, str):
        message = f"{message}: {error.detail}"
    elif isinstance(error, ContextLengthExceeded):  # the API's own wording for a prompt that does not fit
        message = (
            f"input length and `max_tokens` exceed context limit: {error.prompt} + {error.completion} > "
            f"{error.window}, decrease input length or `max_tokens` and try again"
        )
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if isinstance(error.detail, dict) and "error_code" in error.detail:
        body["error"]["details"] = error.detail  # machine-readable, as the API's own (see anthropic_fields)
    if request_id is not None:
        body["request_id"] = request_id
    return body


def event(kind: str, data: Mapping[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


def error_event(error: GatewayError) -> bytes:
    return event("error", {"error": error_body(error)["error"]})


class MessageStreamEncoder:
    """Anthropic's event sequence: `message_start`, `ping`, then per content block
    `content_block_start` / `content_block_delta`... / `content_block_stop`, then `message_delta` (stop
    reason and usage) and `message_stop`. A block is opened whenever the kind of delta changes."""

    __slots__ = ("_call", "_index", "_matched", "_open", "_request_id", "_started", "_stop")

    def __init__(
        self, call: AnthropicCall, request_id: str, matched: Callable[[], str | None] = lambda: None
    ) -> None:
        self._call = call
        self._matched = matched  # the stop sequence that ended the answer, known once it has ended
        self._request_id = request_id
        self._started = False
        self._open: str | None = None  # the kind of the open block: "thinking", "text" or "tool_use"
        self._index = -1
        self._stop = "end_turn"

    def _start(self) -> bytes:
        self._started = True
        request = self._call.request
        prompt = prompt_tokens(request)
        message: dict[str, Any] = {
            "id": f"msg_{self._request_id}",
            "type": "message",
            "role": "assistant",
            "model": self._call.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt, "output_tokens": 0},
        }
        return event("message_start", {"message": message}) + event("ping", {})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"index": self._index})

    def _block(self, kind: str, block: Mapping[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + event("content_block_start", {"index": self._index, "content_block": block})

    def _delta(self, delta: Mapping[str, Any]) -> bytes:
        return event("content_block_delta", {"index": self._index, "delta": delta})

    def encode(self, item: Event) -> bytes:
        out = b"" if self._started else self._start()
        if isinstance(item, ReasoningDelta):
            if not self._call.thinking:
                return out
            if self._open != "thinking":
                out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            return out + self._delta({"type": "thinking_delta", "thinking": item.text})
        if isinstance(item, TextDelta):
            if self._open != "text":
                out += self._block("text", {"type": "text", "text": ""})
            return out + self._delta({"type": "text_delta", "text": item.text})
        if isinstance(item, ToolCallDelta):
            if item.id is not None or item.name is not None:
                block = {"type": "tool_use", "id": item.id or "", "name": item.name or "", "input": {}}
                out += self._block("tool_use", block)
            if item.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": item.arguments})
            return out
        if isinstance(item, Finish):
            self._stop = stop_reason(item.reason, self._matched())
            return out + self._close()
        if isinstance(item, UsageEvent):
            delta = {
                "delta": {"stop_reason": self._stop, "stop_sequence": self._matched()},
                "usage": usage_object(item.usage),
            }
            return out + event("message_delta", delta) + event("message_stop", {})
        return out
