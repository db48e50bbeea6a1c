"""Adapter for OpenAI-compatible servers: DeepInfra, vLLM, Ollama, llama.cpp's server and their peers.

Requests go to `{base_url}/chat/completions` (raw prompts: `/completions`, see `completions.py`)
through the process's one shared `httpx.AsyncClient`.
Answers, streamed or not, become IR events. Reasoning is read from `reasoning_content` (DeepSeek,
DeepInfra, older vLLM) and `reasoning` (recent vLLM); anything that is not what such a server returns,
including a 200 without `choices`, is an `UpstreamBadResponse`, never an empty success.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import httpx
import orjson

from worker.config.models import Target
from worker.core.errors import BadRequest, GatewayError, UpstreamBadResponse, UpstreamError, UpstreamTimeout
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    FinishReason,
    ImagePart,
    Message,
    ReasoningDelta,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from worker.upstreams.completions import completion_payload, text_chunk_events, text_completion_events
from worker.upstreams.wire.http import request_body, request_timeout
from worker.upstreams.wire.pool_janitor import reclaim_orphans
from worker.upstreams.wire.sse import ServerSentEvent, SSEDecoder, SSETooLarge
from worker.upstreams.wire.status import error_for_status, redact
from worker.upstreams.wire.transport import AiohttpTransport, UpstreamResponse

Answer = httpx.Response | UpstreamResponse

# IR sampling field -> OpenAI field. The names agree today; the table is where they would not.
PARAMS: dict[str, str] = {f.name: f.name for f in dataclasses.fields(SamplingParams)}
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",
}
MAX_ERROR_BODY = 64 * 1024


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


def build_payload(request: ChatRequest, target: Target) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": target.model,
        "messages": [openai_message(m) for m in request.messages],
    }
    for name, wire_name in PARAMS.items():
        value = getattr(request.params, name)
        if value is not None and value != ():
            payload[wire_name] = list(value) if isinstance(value, tuple) else value
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in request.tools
        ]
    if request.tool_choice is not None:
        choice = request.tool_choice
        payload["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}}
            if choice.mode == "function"
            else choice.mode
        )
    if request.response_schema is not None:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.response_schema, "strict": True},
        }
    elif request.json_mode:
        payload["response_format"] = {"type": "json_object"}
    if request.user is not None:
        payload["user"] = request.user
    if request.stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(prompt, completion, reasoning if isinstance(reasoning, int) else None)


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


def completion_events(body: bytes) -> Iterator[Event]:
    """Events of a whole (non-streamed) chat completion body."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The upstream answered with a body that is not JSON") from exc
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
    usage = _usage(data.get("usage"))
    if usage is not None:
        yield UsageEvent(usage)


def chunk_events(data: Any) -> list[Event]:
    """Events of one decoded `chat.completion.chunk`.

    A list, not a generator: this runs once per streamed chunk, and a generator's frame and its
    `StopIteration` cost more than the one or two events most chunks carry."""
    if not isinstance(data, dict):
        raise UpstreamBadResponse("The upstream sent a stream chunk that is not an object")
    if "error" in data or data.get("object") == "error":  # OpenAI's form, or older vLLM's flat one
        error = data.get("error", data)
        message = error.get("message") if isinstance(error, dict) else error
        raise UpstreamError(f"The upstream failed mid-stream: {str(message)[:500]}")
    choices = data.get("choices") or ()
    if not isinstance(choices, list | tuple):
        raise UpstreamBadResponse("The upstream sent a stream chunk whose 'choices' is not a list")
    events: list[Event] = []
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
    raw_usage = data.get("usage")
    if raw_usage is not None:
        usage = _usage(raw_usage)
        if usage is not None:
            events.append(UsageEvent(usage))
    return events


class OpenAICompatible:
    def __init__(self, client: httpx.AsyncClient, fast: AiohttpTransport | None = None) -> None:
        self._client = client
        self._fast = fast  # the same pool without httpx's models on the hot path (transport.py)

    async def aclose(self) -> None:
        """The shared client belongs to the application, which closes it."""

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[Event]:
        is_raw = request.raw
        if is_raw and not target.raw_completions:
            raise BadRequest(
                "Raw prompts ('raw': true) are not supported by this model's upstream "
                "(it has no text-completion endpoint); send 'messages' or a prompt without 'raw'"
            )
        secrets = (target.api_key,)
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["authorization"] = f"Bearer {target.api_key}"
        payload = completion_payload(request, target) if is_raw else build_payload(request, target)
        body = request_body(payload)
        url = f"{target.base_url}/completions" if is_raw else f"{target.base_url}/chat/completions"
        decode_body = text_completion_events if is_raw else completion_events
        decode_chunk: Callable[[Any], Iterable[Event]] = text_chunk_events if is_raw else chunk_events
        timeout = request_timeout(target)  # the target's own timeouts, if the model table gives any
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            opened = (
                self._fast.stream_post(url, body, headers, timeout)
                if self._fast is not None
                else self._client.stream("POST", url, content=body, headers=headers, **extra)
            )
            async with opened as response:
                if response.status_code >= 400:
                    raw = await _read_bounded(response, MAX_ERROR_BODY)
                    raise error_for_status(response.status_code, raw, response.headers, secrets)
                content_type = response.headers.get("content-type", "")
                if request.stream and content_type.startswith("text/event-stream"):
                    try:
                        async for event in _stream_events(response, decode_chunk):
                            yield event
                    except SSETooLarge as exc:
                        raise UpstreamBadResponse(
                            "The upstream sent a stream event too large to hold"
                        ) from exc
                else:
                    for event in decode_body(await response.aread()):
                        yield event
        except GatewayError as error:  # a mid-stream error message is upstream text: it may echo the key
            error.message = redact(error.message, secrets)
            raise
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"The upstream timed out ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise UpstreamError("Could not connect to the upstream") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The upstream connection failed ({type(exc).__name__})") from exc
        except BaseException:  # cancelled (the client left): see `pool_janitor` for why this is needed
            await reclaim_orphans(self._client)
            raise


async def _read_bounded(response: Answer, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


async def _stream_events(
    response: Answer, decode: Callable[[Any], Iterable[Event]] = chunk_events
) -> AsyncIterator[Event]:
    """Events of an upstream SSE stream. It ends at `[DONE]`; an end without it is accepted only when a
    finish reason came (several servers omit `[DONE]`), otherwise the answer was cut off: an error."""
    decoder = SSEDecoder()
    finished = False
    chunks = response.aiter_bytes()
    async for chunk in chunks:
        for sse in decoder.feed(chunk):
            if sse.data == "[DONE]":
                await _finish_reading(chunks)
                return
            for event in _decode_chunk(sse, decode):
                finished = finished or isinstance(event, Finish)
                yield event
    for sse in decoder.close():
        if sse.data == "[DONE]":
            return
        for event in _decode_chunk(sse, decode):
            finished = finished or isinstance(event, Finish)
            yield event
    if not finished:
        raise UpstreamBadResponse(
            "The upstream stream ended before the answer was finished", {"truncated": True}
        )


async def _finish_reading(chunks: AsyncIterator[bytes], limit: int = 64 * 1024) -> None:
    """Read the little that follows `[DONE]` (usually just the end of the chunked body): a response
    read to its end hands its connection back to the pool for the next request, while one closed
    early costs a new TCP (and TLS) connection every time."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return


def _decode_chunk(sse: ServerSentEvent, decode: Callable[[Any], Iterable[Event]]) -> Iterable[Event]:
    data = sse.data
    if sse.event == "error":  # `event: error` (some servers): whatever the data says, the stream failed
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            decoded = {"error": {"message": data}}
        if not isinstance(decoded, dict) or not ("error" in decoded or decoded.get("object") == "error"):
            decoded = {"error": {"message": data}}
        return decode(decoded)
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The upstream sent a stream event that is not JSON") from exc
    return decode(decoded)
