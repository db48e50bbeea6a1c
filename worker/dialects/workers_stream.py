"""The `POST /:modelSlug` dialect's streams: events in, Server-Sent Events out, as `{"response"}`
chunks or OpenAI `choices` chunks (the whole-answer rendering and the parsing are in `workers`).

Pure: no I/O, so each encoder is tested byte for byte.
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
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from worker.dialects.workers import tool_call_object

DONE = b"data: [DONE]\n\n"
# Closes reasoning that an upstream handed out as a separate field, exactly as `render_completion` does
# for a whole answer, so a streamed and a non-streamed answer carry the same text.


def sse(data: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


RESPONSE_OPEN = b'data: {"response":'
RESPONSE_CLOSE = b"}\n\n"


def error_event(error: GatewayError) -> bytes:
    """What a stream carries when it fails after its first byte (the status is already sent):
    `{"error": message, "detail": ...}` with the error's machine code in `detail.code`, no `[DONE]`."""
    body: dict[str, Any] = {"error": error.message}
    detail = error.detail if isinstance(error.detail, Mapping) else {"info": error.detail}
    body["detail"] = {"code": error.code, **{k: v for k, v in detail.items() if v is not None}}
    return sse(body)


class WorkersStreamEncoder:
    """Workers AI SSE: `{"response": delta}` per delta, finished tool calls whole, usage last, [DONE]."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[ToolCallDelta]] = {}

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            # `sse({"response": text})` without building the dict: the text's JSON between fixed bytes
            return RESPONSE_OPEN + orjson.dumps(event.text) + RESPONSE_CLOSE if event.text else b""
        if isinstance(event, ReasoningDelta):  # reasoning mode `separate`
            return sse({"response": "", "reasoning": event.text})
        if isinstance(event, ToolCallDelta):
            self._calls.setdefault(event.index, []).append(event)
            return b""
        if isinstance(event, Finish):
            if not self._calls:
                return b""
            calls = []
            for index in sorted(self._calls):
                pieces = self._calls[index]
                name = next((p.name for p in pieces if p.name), "")
                call_id = next((p.id for p in pieces if p.id), "")
                calls.append(tool_call_object(ToolCall(call_id, name, "".join(p.arguments for p in pieces))))
            self._calls.clear()
            return sse({"response": "", "tool_calls": calls})
        if isinstance(event, UsageEvent):
            return sse({"response": "", "usage": event.usage.as_dict()}) + DONE
        return b""


class ChunkEncoder:
    """The `chat.completion.chunk` framing shared by the `choices` shape and the OpenAI surface: `id` and
    `model` on every chunk, the role on the first delta. `logprobs`: write `"logprobs": null` in each
    choice, as the OpenAI surface does. Subclasses decide which events become which chunks."""

    __slots__ = ("_close", "_content_open", "_head", "_logprobs", "_reasoning_open", "_started")

    def __init__(self, model: str, request_id: str, *, logprobs: bool) -> None:
        self._head = (
            b'{"id":"chatcmpl-'
            + request_id.encode()
            + b'","object":"chat.completion.chunk","created":'
            + str(int(time.time())).encode()
            + b',"model":'
            + orjson.dumps(model)
            + b","
        )
        # A text or reasoning delta after the first is the text's JSON between these fixed bytes:
        # exactly what `_choice` writes, without building and serialising its dicts for every event.
        choice_open = b"data: " + self._head + b'"choices":[{"index":0,"delta":{'
        self._content_open = choice_open + b'"content":'
        self._reasoning_open = choice_open + b'"reasoning_content":'
        logprobs_field = b'"logprobs":null,' if logprobs else b""
        self._close = b"}," + logprobs_field + b'"finish_reason":null}]}\n\n'
        self._logprobs = logprobs
        self._started = False

    def _chunk(self, body: Mapping[str, Any]) -> bytes:
        return b"data: " + self._head + orjson.dumps(body)[1:] + b"\n\n"

    def _choice(self, delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        if not self._started:
            self._started = True
            delta = {"role": "assistant", **delta}
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if self._logprobs:
            choice["logprobs"] = None
        choice["finish_reason"] = finish
        return self._chunk({"choices": [choice]})

    def _text(self, text: str) -> bytes:
        if self._started:
            return self._content_open + orjson.dumps(text) + self._close
        return self._choice({"content": text})

    def _reasoning(self, text: str) -> bytes:
        if self._started:
            return self._reasoning_open + orjson.dumps(text) + self._close
        return self._choice({"reasoning_content": text})

    def _tool_call(self, event: ToolCallDelta) -> bytes:
        call: dict[str, Any] = {"index": event.index}
        if event.id is not None or event.name is not None:
            call["id"] = event.id
            call["type"] = "function"
            call["function"] = {"name": event.name, "arguments": event.arguments}
        else:
            call["function"] = {"arguments": event.arguments}
        return self._choice({"tool_calls": [call]})

    def _usage(self, usage: Usage) -> bytes:
        return self._chunk({"choices": [], "usage": usage.as_dict()}) + DONE


class ChoicesStreamEncoder(ChunkEncoder):
    """OpenAI `chat.completion.chunk` events: role on the first delta, `id` and `model` on every chunk,
    then, as OpenAI itself does, a chunk with an empty delta and the `finish_reason`, a usage chunk
    (`choices: []`), then [DONE]. The finish reason is not glued onto the last content delta: that
    would mean holding every delta back until the next one arrives, and a reasoning model may pause
    for minutes between two."""

    __slots__ = ()

    def __init__(self, model: str, request_id: str) -> None:
        super().__init__(model, request_id, logprobs=False)

    def encode(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            return self._text(event.text) if event.text else b""
        if isinstance(event, ReasoningDelta):  # reasoning mode `separate`
            return self._reasoning(event.text)
        if isinstance(event, ToolCallDelta):
            return self._tool_call(event)
        if isinstance(event, Finish):
            return self._choice({}, event.reason)
        if isinstance(event, UsageEvent):
            return self._usage(event.usage)
        return b""
