"""The Responses API's typed event stream: `event: <type>` and `data: {"type", "sequence_number", ...}`.

The order is OpenAI's: `response.created` and `response.in_progress`; for each output item
`response.output_item.added`, its parts and deltas, their `.done` events and `response.output_item.done`;
then `response.completed` (or `response.incomplete` when the answer was cut) carrying the whole
response. There is no `[DONE]` line. Items are opened in the order the answer's events arrive
(reasoning, text, tool calls), and an item is closed when the next one opens or the answer ends.

A failure after the first byte is `response.failed`, carrying the same response id and the items
finished so far; the encoder writes it, because only the stream knows them (and the SDKs refuse a
failure that does not follow a `response.created`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from worker.core.errors import GatewayError
from worker.core.ir import (
    Event,
    Finish,
    FinishReason,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    UsageEvent,
)
from worker.dialects.openai_chat import error_body
from worker.dialects.openai_responses import (
    ResponsesCall,
    function_call_item,
    item_id,
    message_item,
    reasoning_item,
    reasoning_part,
    response_object,
    status_of,
    text_part,
    usage_object,
)

OPEN_MESSAGE: Mapping[str, Any] = {
    "type": "message",
    "status": "in_progress",
    "role": "assistant",
    "content": [],
}


class ResponsesStreamEncoder:
    """One stream's encoder (it keeps the stream's state: make a new one per stream)."""

    __slots__ = (
        "_call",
        "_final",
        "_finish",
        "_held",
        "_index",
        "_kind",
        "_output",
        "_parts",
        "_pending",
        "_request_id",
        "_response",
        "_sequence",
        "_started",
    )

    def __init__(self, call: ResponsesCall, request_id: str) -> None:
        self._call = call
        self._request_id = request_id
        self._response = response_object(call, request_id, int(time.time()))
        self._started = False
        self._sequence = 0
        self._output: list[dict[str, Any]] = []  # finished items
        self._kind: str | None = None  # the open item: "reasoning", "message" or "function_call"
        self._index = -1  # its output index
        self._parts: list[str] = []  # its text (or arguments) so far
        self._pending: ToolCall | None = None  # the open function call's id and name
        self._finish: FinishReason = "stop"
        self._final: dict[str, Any] | None = None  # the finished response, once `settle` made it
        self._held = b""  # events `settle` produced, sent with `response.completed`

    # --- framing ---

    def _event(self, kind: str, data: Mapping[str, Any]) -> bytes:
        payload = orjson.dumps({"type": kind, "sequence_number": self._sequence, **data})
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        created = self._event("response.created", {"response": self._response})
        return created + self._event("response.in_progress", {"response": self._response})

    def _at(self) -> dict[str, Any]:
        return {"item_id": self._item_id(), "output_index": self._index}

    def _item_id(self) -> str:
        prefix = {"reasoning": "rs", "message": "msg"}.get(self._kind or "", "fc")
        return item_id(prefix, self._request_id, self._index)

    # --- items ---

    def _open(self, kind: str, item: dict[str, Any]) -> bytes:
        out = self._close()
        self._kind, self._index, self._parts = kind, len(self._output), []
        item["id"] = self._item_id()
        out += self._event("response.output_item.added", {"output_index": self._index, "item": item})
        if kind == "reasoning":
            if self._call.summary:
                part = {"type": "summary_text", "text": ""}
                out += self._event(
                    "response.reasoning_summary_part.added", {**self._at(), "summary_index": 0, "part": part}
                )
            out += self._event(
                "response.content_part.added", {**self._at(), "content_index": 0, "part": reasoning_part("")}
            )
        elif kind == "message":
            out += self._event(
                "response.content_part.added", {**self._at(), "content_index": 0, "part": text_part("")}
            )
        return out

    def _close(self, status: str = "completed") -> bytes:
        kind = self._kind
        if kind is None:
            return b""
        text = "".join(self._parts)
        at = self._at()
        out = b""
        if kind == "reasoning":
            item = reasoning_item(self._call, at["item_id"], text, status)
            if self._call.summary:
                out += self._event(
                    "response.reasoning_summary_text.done", {**at, "summary_index": 0, "text": text}
                )
                part = {"type": "summary_text", "text": text}
                out += self._event(
                    "response.reasoning_summary_part.done", {**at, "summary_index": 0, "part": part}
                )
            out += self._event("response.reasoning_text.done", {**at, "content_index": 0, "text": text})
            out += self._event(
                "response.content_part.done", {**at, "content_index": 0, "part": reasoning_part(text)}
            )
        elif kind == "message":
            item = message_item(at["item_id"], text, status)
            out += self._event(
                "response.output_text.done", {**at, "content_index": 0, "text": text, "logprobs": []}
            )
            out += self._event(
                "response.content_part.done", {**at, "content_index": 0, "part": text_part(text)}
            )
        else:
            pending = self._pending or ToolCall("", "", "")
            item = function_call_item(at["item_id"], ToolCall(pending.id, pending.name, text))
            out += self._event(
                "response.function_call_arguments.done", {**at, "name": pending.name, "arguments": text}
            )
        out += self._event("response.output_item.done", {"output_index": self._index, "item": item})
        self._output.append(item)
        self._kind = None
        return out

    # --- events ---

    def encode(self, event: Event) -> bytes:
        out = self._start()
        if isinstance(event, ReasoningDelta):
            return out + self._reasoning(event.text)
        if isinstance(event, TextDelta):
            if self._kind != "message":
                out += self._open("message", dict(OPEN_MESSAGE))
            self._parts.append(event.text)
            delta = {**self._at(), "content_index": 0, "delta": event.text, "logprobs": []}
            return out + self._event("response.output_text.delta", delta)
        if isinstance(event, ToolCallDelta):
            return out + self._tool_call(event)
        if isinstance(event, Finish):
            return out + self._end(event)
        if isinstance(event, UsageEvent):
            return out + self._complete(event)
        return out

    def _reasoning(self, text: str) -> bytes:
        out = b""
        if self._kind != "reasoning":
            item = {"type": "reasoning", "summary": [], "content": [], "status": "in_progress"}
            out += self._open("reasoning", item)
        self._parts.append(text)
        at = self._at()
        if self._call.summary:
            out += self._event(
                "response.reasoning_summary_text.delta", {**at, "summary_index": 0, "delta": text}
            )
        return out + self._event("response.reasoning_text.delta", {**at, "content_index": 0, "delta": text})

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        out = b""
        if event.id is not None or event.name is not None or self._kind != "function_call":
            self._pending = ToolCall(event.id or "", event.name or "", "")
            item = {
                "type": "function_call",
                "call_id": self._pending.id,
                "name": self._pending.name,
                "arguments": "",
                "status": "in_progress",
            }
            out += self._open("function_call", item)
        if event.arguments:
            self._parts.append(event.arguments)
            out += self._event(
                "response.function_call_arguments.delta", {**self._at(), "delta": event.arguments}
            )
        return out

    def _end(self, finish: Finish) -> bytes:
        self._finish = finish.reason
        status, _ = status_of(finish.reason)
        out = self._close(status)
        if not any(item["type"] in ("message", "function_call") for item in self._output):
            # An answer with neither text nor calls still has its (empty) message, as a whole answer has.
            out += self._open("message", dict(OPEN_MESSAGE))
            out += self._close(status)
        return out

    def settle(self, usage: UsageEvent) -> dict[str, Any]:
        """The finished response, made before its `response.completed` is written, so that the surface
        can store it first and say in that event whether it did (`"store"`)."""
        self._held += self._close()
        status, incomplete = status_of(self._finish)
        self._final = {
            **self._response,
            "status": status,
            "incomplete_details": incomplete,
            "output": self._output,
            "usage": usage_object(usage.usage),
        }
        return self._final

    def _complete(self, usage: UsageEvent) -> bytes:
        response = self._final or self.settle(usage)
        out, self._held = self._held, b""
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": response})

    def error_event(self, error: GatewayError) -> bytes:
        """`response.failed` with the items finished so far (after `response.created` if not yet sent).

        Its `code` is one of the values OpenAI's SDKs type it with (`rate_limit_exceeded`, else
        `server_error`): the gateway's own code (`upstream_timeout`...) is in the log line."""
        out = self._start()
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
        response = {
            **self._response,
            "status": "failed",
            "error": {"code": code, "message": error_body(error)["error"]["message"]},
            "output": self._output,
        }
        return out + self._event("response.failed", {"response": response})
