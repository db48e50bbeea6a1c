"""Adapter for OpenAI-compatible servers: DeepInfra, vLLM, Ollama, llama.cpp's server and their peers.

Requests go to `{base_url}/chat/completions` (raw prompts: `/completions`, see `completions.py`) over
the process's one wire. Answers, streamed or not, become IR events. Reasoning is read from
`reasoning_content` (DeepSeek, DeepInfra, older vLLM) and `reasoning` (recent vLLM); anything that is
not what such a server returns, including a 200 without `choices`, is an `UpstreamBadResponse`, never
an empty success.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from worker.config.models import Target
from worker.core.errors import BadRequest, UpstreamBadResponse
from worker.core.ir import (
    ChatRequest,
    Finish,
    FinishReason,
    ImagePart,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
    UpstreamEvent,
    UsageEvent,
)
from worker.upstreams.completions import COMPLETIONS, OPENAI_END, STREAM_PARAMS, completion_payload
from worker.upstreams.params import SAMPLING, Param, ParamMap, map_params
from worker.upstreams.wire.decode import WireFormat, json_body, usage
from worker.upstreams.wire.exchange import Call, HttpUpstream, json_headers, request_body
from worker.upstreams.wire.status import error_for_status

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",
}


def openai_message(message: Message) -> dict[str, Any]:
    """One IR message as an OpenAI chat message (also the Workers AI REST input's message shape)."""
    out: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str):
        out["content"] = message.content
    else:
        out["content"] = [
            {"type": "image_url", "image_url": {"url": part.url}}
            if isinstance(part, ImagePart)
            else {"type": "text", "text": part.text}
            for part in message.content
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return out


def openai_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    return [openai_message(m) for m in messages]


def _tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    return (
        {"type": "function", "function": {"name": choice.name}} if choice.mode == "function" else choice.mode
    )


def _response_format(request: ChatRequest) -> dict[str, Any] | None:
    """A JSON schema if the request has one, else JSON mode if asked: two IR fields, one wire field."""
    if request.response_schema is not None:
        return {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.response_schema, "strict": True},
        }
    return {"type": "json_object"} if request.json_mode else None


CHAT_PARAMS: ParamMap = {
    "messages": Param("messages", default=(), transform=openai_messages),
    **SAMPLING,
    "tools": Param("tools", transform=_tools),
    "tool_choice": Param("tool_choice", transform=_tool_choice),
    "response_format": Param("", transform=_response_format),
    "user": Param("user"),
    **STREAM_PARAMS,
}


def build_payload(request: ChatRequest, target: Target) -> dict[str, Any]:
    return {"model": target.model, **map_params(request, CHAT_PARAMS)}


def _tool_call_deltas(raw: Any, streamed: bool) -> Iterator[ToolCallDelta]:
    if not isinstance(raw, list):
        raise UpstreamBadResponse("The upstream sent 'tool_calls' that is not a list")
    for position, call in enumerate(raw):
        if not isinstance(call, dict):
            raise UpstreamBadResponse("The upstream sent a tool call that is not an object")
        function = call.get("function") or {}
        index = call.get("index", position) if streamed else position
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # some servers send an object; keep it as JSON text
            arguments = orjson.dumps(arguments).decode()
        yield ToolCallDelta(
            index=index if isinstance(index, int) else position,
            arguments=arguments,
            id=call.get("id") or None,
            name=function.get("name") or None,
        )


def completion_events(body: bytes) -> Iterator[UpstreamEvent]:
    """Events of a whole (non-streamed) chat completion body."""
    data = json_body(body)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBadResponse("The upstream answered 200 without 'choices'")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise UpstreamBadResponse("The upstream answered a choice without 'message'")
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    tool_calls = message.get("tool_calls")
    if content is not None and not isinstance(content, str):
        raise UpstreamBadResponse("The upstream answered with 'content' that is not text")
    if content is None and not tool_calls and not reasoning:
        raise UpstreamBadResponse("The upstream answered with neither content nor tool calls")
    if isinstance(reasoning, str) and reasoning:
        yield ReasoningDelta(reasoning)
    if content:
        yield TextDelta(content)
    if tool_calls:
        yield from _tool_call_deltas(tool_calls, streamed=False)
    reason = choices[0].get("finish_reason")
    yield Finish(FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop")
    counted = usage(data.get("usage"))
    if counted is not None:
        yield UsageEvent(counted)


class ChatChunks:
    """The chunk decoder of a streamed chat completion (`chat.completion.chunk` objects)."""

    __slots__ = ("finished",)

    def __init__(self) -> None:
        self.finished = False

    def decode(self, data: dict[str, Any]) -> list[UpstreamEvent]:
        choices = data.get("choices") or ()
        if not isinstance(choices, list | tuple):
            raise UpstreamBadResponse("The upstream sent a stream chunk whose 'choices' is not a list")
        events: list[UpstreamEvent] = []
        for choice in choices:
            delta = (choice.get("delta") or {}) if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                raise UpstreamBadResponse("The upstream sent a stream chunk with a malformed choice")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                events.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if content:
                events.append(TextDelta(content))
            if delta.get("tool_calls"):
                events.extend(_tool_call_deltas(delta["tool_calls"], streamed=True))
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                events.append(Finish(FINISH_REASONS.get(reason, "stop")))
                self.finished = True
        raw_usage = data.get("usage")
        if raw_usage is not None:
            counted = usage(raw_usage)
            if counted is not None:
                events.append(UsageEvent(counted))
        return events


CHAT = WireFormat(error_for_status, completion_events, ChatChunks, OPENAI_END)


class OpenAICompatible(HttpUpstream):
    def prepare(self, request: ChatRequest, target: Target) -> Call:
        headers = json_headers(target)
        if not request.raw:
            body = request_body(build_payload(request, target))
            return Call(f"{target.base_url}/chat/completions", body, headers, CHAT)
        if not target.raw_completions:
            raise BadRequest(
                "Raw prompts ('raw': true) are not supported by this model's upstream "
                "(it has no text-completion endpoint); send 'messages' or a prompt without 'raw'"
            )
        body = request_body(completion_payload(request, target))
        return Call(f"{target.base_url}/completions", body, headers, COMPLETIONS)
