"""The Workers AI wire format, shared by the Cloudflare REST adapter and the chained-gateway adapter.

Both take the Workers AI input (`messages` or `prompt`, sampling fields, `tools`, `guided_json`) and
answer `{"response", "tool_calls": [{name, arguments: object}], "usage"}` (Cloudflare inside its
`result` envelope), or stream SSE events `{"response": delta}` (Cloudflare pads them with `"p"`), a
`tool_calls` event, a usage event and `data: [DONE]`. A stream that ends without `[DONE]` was cut: it
is an `UpstreamBadResponse`, never a short success.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from worker.config.models import Target
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import (
    ChatRequest,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    UpstreamEvent,
    UsageEvent,
    new_tool_call_id,
)
from worker.upstreams.openai_compat import openai_messages
from worker.upstreams.params import Param, ParamMap, map_params, true_or_absent
from worker.upstreams.wire.decode import StreamEnd, WireFormat, usage
from worker.upstreams.wire.exchange import Call, HttpUpstream, json_headers, request_body


def _tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools]


WORKERS_PARAMS: ParamMap = {
    "messages": Param("messages", transform=openai_messages),
    "prompt": Param("prompt"),
    "raw": Param("raw", transform=true_or_absent),
    "stream": Param("stream", transform=true_or_absent),
    "max_tokens": Param("params.max_tokens"),
    "temperature": Param("params.temperature"),
    "top_p": Param("params.top_p"),
    "top_k": Param("params.top_k"),
    "seed": Param("params.seed"),
    "repetition_penalty": Param("params.repetition_penalty"),
    "frequency_penalty": Param("params.frequency_penalty"),
    "presence_penalty": Param("params.presence_penalty"),
    "tools": Param("tools", transform=_tools),
    "guided_json": Param("response_schema", transform=dict),
}


def build_payload(request: ChatRequest) -> dict[str, Any]:
    return map_params(request, WORKERS_PARAMS)


def _tool_calls(raw: Any, first_index: int = 0) -> Iterator[ToolCallDelta]:
    if not isinstance(raw, list):
        raise UpstreamBadResponse("The upstream sent 'tool_calls' that is not a list")
    for offset, call in enumerate(raw):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise UpstreamBadResponse("The upstream sent a tool call without a name")
        arguments = call.get("arguments", {})
        text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        call_id = (
            call.get("id") if isinstance(call.get("id"), str) else new_tool_call_id()
        )  # Workers AI sends none
        yield ToolCallDelta(first_index + offset, text, call_id, call["name"])


def result_events(result: Any) -> Iterator[UpstreamEvent]:
    """Events of a whole answer (`{"response", "tool_calls"?, "usage"?}`)."""
    if not isinstance(result, dict) or ("response" not in result and "tool_calls" not in result):
        raise UpstreamBadResponse("The upstream answered 200 without 'response'")
    response = result.get("response")
    if isinstance(response, dict | list):  # JSON mode may hand back the object itself
        response = orjson.dumps(response).decode()
    if response is not None and not isinstance(response, str):
        raise UpstreamBadResponse("The upstream answered with a 'response' that is not text")
    if response:
        yield TextDelta(response)
    if result.get("tool_calls"):
        yield from _tool_calls(result["tool_calls"])
    counted = usage(result.get("usage"))
    if counted is not None:
        yield UsageEvent(counted)


class WorkersChunks:
    """The chunk decoder of a Workers AI stream; numbers the tool calls of the stream (several
    `tool_calls` events may arrive)."""

    __slots__ = ("calls", "finished")

    def __init__(self) -> None:
        self.calls = 0
        self.finished = False  # never set: a Workers stream ends at `[DONE]` (WORKERS_END)

    def decode(self, data: dict[str, Any]) -> list[UpstreamEvent]:
        events: list[UpstreamEvent] = []
        response = data.get("response")
        if isinstance(response, str) and response:
            events.append(TextDelta(response))
        if data.get("tool_calls"):
            calls = list(_tool_calls(data["tool_calls"], self.calls))
            self.calls += len(calls)
            events.extend(calls)
        counted = usage(data.get("usage"))
        if counted is not None:
            events.append(UsageEvent(counted))
        return events


WORKERS_END = StreamEnd("The upstream stream ended before [DONE]: the answer was cut short")


class WorkersStyleUpstream(HttpUpstream):
    """One POST, Workers AI body out, Workers AI answer (or stream) in. A subclass gives the URL and
    `format`: its error table and its body decoder (where the answer sits in a 200 body)."""

    format: WireFormat

    def url(self, target: Target) -> str:
        raise NotImplementedError

    def prepare(self, request: ChatRequest, target: Target) -> Call:
        headers = json_headers(target, accept="application/json, text/event-stream")
        return Call(self.url(target), request_body(build_payload(request)), headers, self.format)
