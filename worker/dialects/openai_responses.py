"""The OpenAI Responses dialect (`POST /v1/responses`), the wire of Codex CLI and of the SDKs' `responses`.

Parsing turns `input` (a string, or a list of items) into the IR's chat turns: `instructions` and
`developer`/`system` messages become system turns, `function_call` items become the assistant's tool
calls (consecutive calls join one assistant turn, as chat templates expect) and `function_call_output`
items become tool turns. `reasoning` items a client sends back are dropped: QwQ's reasoning is not
part of its prompt on later turns. Built-in tool kinds (`web_search`, Codex's `namespace` groups...)
are accepted and left out, named in `X-Gateway-Ignored-Fields`, so that a client offering them works.

A response is stored (`store` true or omitted, as OpenAI's default) when the gateway has a state store;
`previous_response_id` then continues a stored conversation: its items come before `input` (the
surface loads them, `worker.surfaces.stored`). Without a store, `previous_response_id` is refused and
every answer says `"store": false`.

Rendering a whole answer is here; the typed event stream is `worker.dialects.openai_responses_stream`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.config.models import ModelEntry, ModelTable
from worker.core.aggregate import Completion
from worker.core.errors import BadRequest
from worker.core.ir import (
    ChatRequest,
    ContentPart,
    FinishReason,
    ImagePart,
    Message,
    SamplingParams,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)
from worker.dialects.openai_chat import resolve_model
from worker.dialects.schemas import (
    OPENAI_RESPONSES_SCHEMA,
    embedded_schema_violations,
    responses_violations,
    summary,
)

KNOWN_FIELDS = frozenset(OPENAI_RESPONSES_SCHEMA["properties"])
# Accepted so that existing clients work unchanged, but not acted upon: named in a response header
# when they are sent with a value other than null/false/empty.
IGNORED_FIELDS = (
    "parallel_tool_calls",
    "metadata",
    "include",
    "prompt_cache_key",
    "client_metadata",
    "service_tier",
    "truncation",
    "stream_options",
)
EMPTY_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
SUMMARY_MODES = ("auto", "concise", "detailed")


class UnknownParameter(BadRequest):
    """A top-level field the Responses API does not define (OpenAI answers these the same way)."""

    code = "unknown_parameter"


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    """A parsed Responses call: the IR plus what only the rendering needs."""

    request: ChatRequest
    entry: ModelEntry
    body: Mapping[str, Any]  # the request as sent: the answer echoes its settings, as OpenAI's does
    summary: bool  # whether the reasoning is also given as `summary` (the client asked for a summary)
    ignored: tuple[str, ...]
    store: bool = False  # whether this response is to be stored

    @property
    def model(self) -> str:
        return str(self.body["model"])


# --- parsing -------------------------------------------------------------------------------------


def _parts(raw: Any) -> str | tuple[ContentPart, ...]:
    if isinstance(raw, str):
        return raw
    parts: list[ContentPart] = []
    for part in raw:
        kind = part["type"]
        if kind == "input_image":
            parts.append(ImagePart(part["image_url"]))
        else:
            parts.append(TextPart(part["refusal"] if kind == "refusal" else part["text"]))
    return tuple(parts)


def _text(content: str | tuple[ContentPart, ...]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def _turns(items: Any) -> list[Message]:
    if isinstance(items, str):
        return [Message(role="user", content=items)]
    turns: list[Message] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "reasoning":
            continue
        if kind == "function_call":
            call = ToolCall(item["call_id"], item["name"], item["arguments"])
            last = turns[-1] if turns else None
            if last is not None and last.role == "assistant":
                turns[-1] = Message("assistant", last.content, tool_calls=(*last.tool_calls, call))
            else:
                turns.append(Message("assistant", "", tool_calls=(call,)))
        elif kind == "function_call_output":
            turns.append(Message("tool", _parts(item["output"]), tool_call_id=item["call_id"]))
        else:
            role = item["role"]
            content = _parts(item["content"])
            if role == "assistant":
                turns.append(Message("assistant", _text(content)))
            else:
                turns.append(Message("system" if role == "developer" else role, content))
    return turns


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw == "required" and not tools:
            raise BadRequest(
                "tool_choice 'required' needs at least one function tool", {"param": "tool_choice"}
            )
        return ToolChoice(raw)  # type: ignore[arg-type]  # the schema allows only the three modes
    name = raw["name"]
    if all(tool.name != name for tool in tools):
        raise BadRequest(
            f"tool_choice names '{name[:64]}', which is not a function in 'tools'", {"param": "tool_choice"}
        )
    return ToolChoice("function", name)


def _embedded_schemas(body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    found = [
        (f"/tools/{i}/parameters", t["parameters"])
        for i, t in enumerate(body.get("tools") or ())
        if t["type"] == "function" and t.get("parameters") is not None
    ]
    text_format = (body.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema":
        found.append(("/text/format/schema", text_format["schema"]))
    return found


def _ignored(body: Mapping[str, Any], can_store: bool) -> tuple[str, ...]:
    names = [name for name in IGNORED_FIELDS if body.get(name) not in (None, False, [], {})]
    if body.get("store") is True and not can_store:  # no state store: said here and in the answer
        names.append("store")
    if (body.get("reasoning") or {}).get("effort") is not None:
        names.append("reasoning.effort")
    if (body.get("text") or {}).get("verbosity") is not None:
        names.append("text.verbosity")
    kinds = dict.fromkeys(t["type"] for t in body.get("tools") or () if t["type"] != "function")
    names.extend(f"tools.{kind}" for kind in kinds)
    return tuple(names)


class PreviousResponseNotFound(BadRequest):
    """OpenAI's answer to a `previous_response_id` it does not hold (a 400, not a 404)."""

    code = "previous_response_not_found"


def _check(body: Any, can_store: bool) -> None:
    if isinstance(body, dict):
        unknown = sorted(name for name in body if name not in KNOWN_FIELDS)
        if unknown:
            raise UnknownParameter(f"Unknown parameter: '{unknown[0][:64]}'.", {"param": unknown[0][:64]})
    violations = responses_violations(body) or embedded_schema_violations(_embedded_schemas(body))
    if violations:
        raise BadRequest(f"Invalid request: {summary(violations)}", violations)
    if body.get("previous_response_id") is not None and not can_store:
        raise PreviousResponseNotFound(
            "This gateway does not store responses (it runs without a state store), so "
            "'previous_response_id' cannot refer to one: send the whole conversation in 'input' instead",
            {"param": "previous_response_id"},
        )


def input_items(raw: Any) -> list[dict[str, Any]]:
    """`input` as a list of items (a string is one user message), the form a stored response keeps."""
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return [dict(item) for item in raw]


def parse_request(
    body: Any, table: ModelTable, can_store: bool = False, history: Sequence[Mapping[str, Any]] = ()
) -> ResponsesCall:
    """`can_store`: the gateway has a state store; `history`: the items of the stored conversation
    `previous_response_id` continues (its instructions are not carried over, as OpenAI does)."""
    _check(body, can_store)
    entry = resolve_model(table, body["model"])
    tools = tuple(
        ToolSpec(t["name"], t.get("description") or "", t.get("parameters") or EMPTY_PARAMETERS)
        for t in body.get("tools") or ()
        if t["type"] == "function"
    )
    instructions = body.get("instructions")
    turns = [Message("system", instructions)] if instructions else []
    turns.extend(_turns([*history, *input_items(body["input"])] if history else body["input"]))
    if not turns:
        raise BadRequest("'input' holds no message", {"param": "input"})
    max_tokens = body.get("max_output_tokens")
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    reasoning = body.get("reasoning") or {}
    request = ChatRequest(
        model=entry.slug,
        messages=tuple(turns),
        stream=bool(body.get("stream")),
        params=SamplingParams(
            max_tokens=None if max_tokens is None else int(max_tokens),  # 5.0 is an integer to JSON Schema
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
        ),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_schema=text_format.get("schema") if text_format["type"] == "json_schema" else None,
        json_mode=text_format["type"] == "json_object",
        reasoning="separate",
        user=body.get("user") or body.get("safety_identifier"),
    )
    wants_summary = (reasoning.get("summary") or reasoning.get("generate_summary")) in SUMMARY_MODES
    store = can_store and body.get("store") is not False
    return ResponsesCall(request, entry, body, wants_summary, _ignored(body, can_store), store)


# --- rendering ------------------------------------------------------------------------------------


def item_id(prefix: str, request_id: str, index: int) -> str:
    """Output item ids: unique within the response, and the same in its stream and its final form."""
    return f"{prefix}_{request_id}_{index}"


def usage_object(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }
    if usage.estimated:
        out["estimated"] = True
    return out


def status_of(finish: FinishReason) -> tuple[str, dict[str, str] | None]:
    """The response's `status` and `incomplete_details` for how the answer ended."""
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_object(call: ResponsesCall, request_id: str, created_at: int) -> dict[str, Any]:
    """The response without its outcome (`in_progress`, no output): what a stream starts with."""
    body = call.body
    reasoning = body.get("reasoning") or {}
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    return {
        "id": f"resp_{request_id}",
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": call.model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": call.store,
        "temperature": body.get("temperature"),
        "text": {"format": text_format},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation") or "disabled",
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def reasoning_item(call: ResponsesCall, id_: str, text: str, status: str = "completed") -> dict[str, Any]:
    """QwQ's reasoning, verbatim, as `reasoning_text` content (the field for a model's raw reasoning);
    also as the `summary` when the client asked for one, since that is what the SDKs and Codex show.
    The gateway does not summarize: the summary is the whole reasoning."""
    summary = [{"type": "summary_text", "text": text}] if call.summary else []
    return {
        "type": "reasoning",
        "id": id_,
        "summary": summary,
        "content": [reasoning_part(text)],
        "status": status,
    }


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning_text", "text": text}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(id_: str, text: str, status: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": id_,
        "status": status,
        "role": "assistant",
        "content": [text_part(text)],
    }


def function_call_item(id_: str, call: ToolCall, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": id_,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def render_response(completion: Completion, call: ResponsesCall, request_id: str) -> dict[str, Any]:
    status, incomplete = status_of(completion.finish_reason)
    output: list[dict[str, Any]] = []
    if completion.reasoning:
        # Cut while still reasoning: the reasoning is what is incomplete.
        cut_short = status if not (completion.text or completion.tool_calls) else "completed"
        id_ = item_id("rs", request_id, len(output))
        output.append(reasoning_item(call, id_, completion.reasoning, cut_short))
    if completion.text or not completion.tool_calls:
        output.append(message_item(item_id("msg", request_id, len(output)), completion.text, status))
    for tool_call in completion.tool_calls:
        output.append(function_call_item(item_id("fc", request_id, len(output)), tool_call))
    response = response_object(call, request_id, int(time.time()))
    response.update(
        status=status,
        incomplete_details=incomplete,
        output=output,
        usage=usage_object(completion.usage),
    )
    return response
