"""The Workers AI wire format, shared by the Cloudflare REST adapter and the chained-gateway adapter.

Both take the Workers AI input (`messages` or `prompt`, sampling fields, `tools`, `guided_json`) and
answer `{"response", "tool_calls": [{name, arguments: object}], "usage"}` (Cloudflare inside its
`result` envelope), or stream SSE events `{"response": delta}` (Cloudflare pads them with `"p"`), a
`tool_calls` event, a usage event and `data: [DONE]`. A stream that ends without `[DONE]` was cut: it
is an `UpstreamBadResponse`, never a short success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx
import orjson

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamBadResponse, UpstreamError
from worker.core.ir import (
    ChatRequest,
    Event,
    Message,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
    UsageEvent,
    new_tool_call_id,
)
from worker.upstreams.openai_compat import openai_message
from worker.upstreams.params import Param, ParamMap, map_params
from worker.upstreams.wire.http import read_bounded, request_body, request_timeout, transport_error
from worker.upstreams.wire.sse import SSEDecoder


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    return [openai_message(m) for m in messages]


def _tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools]


def _true_or_absent(value: bool) -> bool | None:
    return True if value else None


WORKERS_PARAMS: ParamMap = {
    "messages": Param("messages", transform=_messages),
    "prompt": Param("prompt"),
    "raw": Param("raw", transform=_true_or_absent),
    "stream": Param("stream", transform=_true_or_absent),
    "params.max_tokens": Param("max_tokens"),
    "params.temperature": Param("temperature"),
    "params.top_p": Param("top_p"),
    "params.top_k": Param("top_k"),
    "params.seed": Param("seed"),
    "params.repetition_penalty": Param("repetition_penalty"),
    "params.frequency_penalty": Param("frequency_penalty"),
    "params.presence_penalty": Param("presence_penalty"),
    "tools": Param("tools", transform=_tools),
    "response_schema": Param("guided_json", transform=dict),
}


def build_payload(request: ChatRequest) -> dict[str, Any]:
    return map_params(request, WORKERS_PARAMS)


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    # A chained gateway marks estimated counts; keep the mark so nobody bills them as exact.
    return Usage(
        prompt, completion, reasoning if isinstance(reasoning, int) else None, raw.get("estimated") is True
    )


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


def result_events(result: Any) -> Iterator[Event]:
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
    usage = _usage(result.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)


class StreamState:
    """Numbers the tool calls of one stream (several `tool_calls` events may arrive)."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def events(self, data: Any) -> Iterator[Event]:
        if not isinstance(data, dict):
            raise UpstreamBadResponse("The upstream sent a stream event that is not an object")
        if "error" in data or ("errors" in data and data.get("success") is False):
            error = data.get("error") or (data.get("errors") or [{}])[0]
            message = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError(f"The upstream failed mid-stream: {str(message)[:500]}")
        response = data.get("response")
        if isinstance(response, str) and response:
            yield TextDelta(response)
        if data.get("tool_calls"):
            calls = list(_tool_calls(data["tool_calls"], self.calls))
            self.calls += len(calls)
            yield from calls
        usage = _usage(data.get("usage"))
        if usage is not None:
            yield UsageEvent(usage)


async def stream_events(response: httpx.Response) -> AsyncIterator[Event]:
    decoder = SSEDecoder()
    state = StreamState()
    async for chunk in response.aiter_bytes():
        for sse in decoder.feed(chunk):
            if sse.data == "[DONE]":
                return
            for event in state.events(_json(sse.data)):
                yield event
    for sse in decoder.close():
        if sse.data == "[DONE]":
            return
        for event in state.events(_json(sse.data)):
            yield event
    raise UpstreamBadResponse(
        "The upstream stream ended before [DONE]: the answer was cut short", {"truncated": True}
    )


def _json(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The upstream sent a stream event that is not JSON") from exc


ErrorMapper = Callable[[int, bytes, Mapping[str, str], tuple[str, ...]], GatewayError]


class WorkersStyleUpstream:
    """One POST, Workers AI body out, Workers AI answer (or stream) in; subclasses say where and how
    errors and the success body are wrapped."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def aclose(self) -> None:
        """The shared client belongs to the application, which closes it."""

    def url(self, target: Target) -> str:
        raise NotImplementedError

    def error(
        self, status: int, body: bytes, headers: Mapping[str, str], keys: tuple[str, ...]
    ) -> GatewayError:
        raise NotImplementedError

    def unwrap(self, data: Any) -> Any:
        """The answer inside a 200 body (Cloudflare's `result`; a chained gateway's body as is)."""
        return data

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[Event]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        body = request_body(build_payload(request))
        timeout = request_timeout(target)
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            async with self._client.stream(
                "POST", self.url(target), content=body, headers=headers, **extra
            ) as response:
                if response.status_code >= 400:
                    raw = await read_bounded(response)
                    raise self.error(response.status_code, raw, response.headers, (target.api_key,))
                if response.headers.get("content-type", "").startswith("text/event-stream"):
                    async for event in stream_events(response):
                        yield event
                    return
                raw = await response.aread()
                try:
                    data = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise UpstreamBadResponse("The upstream answered with a body that is not JSON") from exc
                for event in result_events(self.unwrap(data)):
                    yield event
        except GatewayError:
            raise
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
