"""One upstream exchange, for every HTTP adapter: POST, then the error table, the whole body, or the one
SSE loop.

`HttpUpstream.events` is the only code that reads an upstream's answer. An adapter subclasses it and
says, in `prepare`, where to send what (URL, payload from its parameter map, headers) and how its
answers look (`WireFormat`: error table, body decoder, chunk decoder, end rule). Everything else is
here, once: bounded error bodies, `[DONE]`, the end-of-stream rule, mid-stream errors, the secrets
redaction of every error message (upstream text can echo the key we sent).

The loop is the adapter's own generator (no nested generator per stream: every layer would cost each
event a resumption). At `[DONE]` it returns at once; what follows `[DONE]` is read in the background
(`wire.drain`), so an upstream that keeps its body open cannot hold the client's end back.

What a stream must have carried to count as an answer: some content (text, reasoning, a tool call) or a
finish. `[DONE]` alone, chunks without `choices`, a role delta and `[DONE]`: an `UpstreamBadResponse`,
never an empty success.

Bounds: a compressed answer is decoded in bounded pieces (`wire.encoding`); a non-streamed answer is
read up to `max_body` bytes (`UPSTREAM_MAX_BODY_BYTES`), as is a stream answering a non-streamed
request; one stream event is capped by the SSE decoder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple

import orjson

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamBadResponse
from worker.core.ir import ChatRequest, UpstreamEvent, UsageEvent
from worker.observe.context import upstream_headers
from worker.upstreams.wire.decode import WireFormat, stream_object
from worker.upstreams.wire.encoding import (
    ACCEPT_ENCODING,
    Decoding,
    UnknownEncoding,
    content_decoder,
    decoded,
)
from worker.upstreams.wire.seam import Answer, Wire, request_timeout
from worker.upstreams.wire.sse import SSEDecoder, SSETooLarge
from worker.upstreams.wire.status import redact

# The most of an error answer that is read: enough for any message, and bounded so that a misbehaving
# upstream cannot make the gateway buffer without end.
MAX_BODY_TAIL = 64 * 1024
# `UPSTREAM_MAX_BODY_BYTES`' default: a whole QwQ answer of 32k tokens is a few hundred KiB of JSON.
MAX_BODY = 8 * 1024 * 1024


class BodyTooLarge(UpstreamBadResponse):
    message = "The upstream's answer is larger than UPSTREAM_MAX_BODY_BYTES"


class EmptyStream(UpstreamBadResponse):
    message = "The upstream's stream ended without any content or finish: no answer"


class Call(NamedTuple):
    """One upstream request, as an adapter's `prepare` describes it."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    format: WireFormat


def request_body(payload: Any) -> bytes:
    """The JSON body of an upstream request, as an exact-size copy: orjson hands out its 4 KiB working
    buffer as the bytes object, and this body lives as long as the answer (held by the adapter and by
    the HTTP library's request), so every open stream paid 4 KiB for a few hundred bytes (docs/performance.md,
    memory per open stream)."""
    return bytes(memoryview(orjson.dumps(payload)))


def json_headers(target: Target, **extra: str) -> dict[str, str]:
    headers = {"content-type": "application/json", **upstream_headers(), **extra}  # request id, trace
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return headers


def body_chunks(answer: Answer, decoding: Decoding | None) -> AsyncIterator[bytes]:
    """The body's bytes, decoded if the upstream compressed them (the raw iterator itself if not)."""
    chunks = answer.aiter_bytes()
    return chunks if decoding is None else decoded(chunks, decoding)


async def read_bounded(answer: Answer, limit: int = MAX_BODY_TAIL) -> bytes:
    """At most `limit` bytes of an error body (its message does not need more); b"" if it is in an
    encoding the gateway cannot read (the status still says what happened)."""
    try:
        decoding = content_decoder(answer.headers.get("content-encoding"))
    except UnknownEncoding:
        return b""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in body_chunks(answer, decoding):
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    except UpstreamBadResponse:  # a corrupt compressed error body: the status is enough
        return b""
    return b"".join(parts)[:limit]


async def read_body(answer: Answer, decoding: Decoding | None, limit: int) -> bytes:
    """A whole non-streamed answer, at most `limit` bytes once decoded. An uncompressed body within a
    declared length that fits is read in one call (aiohttp's own read, nothing in between)."""
    length = answer.headers.get("content-length", "")
    if decoding is None and length.isdigit():
        if int(length) > limit:
            raise BodyTooLarge(detail={"limit": limit})
        return await answer.aread()
    parts: list[bytes] = []
    size = 0
    async for chunk in body_chunks(answer, decoding):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(detail={"limit": limit})
        parts.append(chunk)
    return b"".join(parts)


def answers(events: list[UpstreamEvent]) -> bool:
    """Do these events answer anything (content or a finish)? A usage report alone does not."""
    return any(type(event) is not UsageEvent for event in events)


class HttpUpstream:
    """Base of the HTTP adapters. Subclasses implement `prepare`; the wire belongs to the application."""

    def __init__(self, wire: Wire, max_body: int = MAX_BODY) -> None:
        self._wire = wire
        self._max_body = max_body

    async def aclose(self) -> None:
        """The wire is shared and belongs to the application, which closes it."""

    def prepare(self, request: ChatRequest, target: Target) -> Call:
        raise NotImplementedError

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[UpstreamEvent]:
        try:
            call = self.prepare(request, target)
            form = call.format
            headers = call.headers
            if not request.stream:  # a stream asks for `identity` (the wire's default): see wire.encoding
                headers = {**headers, "accept-encoding": ACCEPT_ENCODING}
            async with self._wire.post(call.url, call.body, headers, request_timeout(target)) as answer:
                status = answer.status_code
                if status >= 400:
                    raise form.errors(status, await read_bounded(answer), answer.headers)
                decoding = content_decoder(answer.headers.get("content-encoding"))
                if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                    for event in form.body(await read_body(answer, decoding, self._max_body)):
                        yield event
                    return
                decoder = SSEDecoder()
                chunks = form.chunks()
                decode = chunks.decode
                # A stream answering a non-streamed request is held whole by the aggregator: capped too.
                budget = None if request.stream else self._max_body
                answered = False
                async for piece in body_chunks(answer, decoding):
                    if budget is not None:
                        budget -= len(piece)
                        if budget < 0:
                            raise BodyTooLarge(detail={"limit": self._max_body})
                    for sse in decoder.feed(piece):
                        if sse.data == "[DONE]":
                            if not answered:
                                raise EmptyStream()
                            answer.finish_in_background()
                            return
                        events = decode(stream_object(sse))
                        if not answered:  # (looked at until the first answer, not on every event)
                            answered = answers(events)
                        for event in events:
                            yield event
                for sse in decoder.close():
                    if sse.data == "[DONE]":
                        if not answered:
                            raise EmptyStream()
                        return
                    events = decode(stream_object(sse))
                    answered = answered or answers(events)
                    for event in events:
                        yield event
                if not (form.end.finish_suffices and chunks.finished):
                    raise UpstreamBadResponse(form.end.message, {"truncated": True})
        except SSETooLarge as exc:
            raise UpstreamBadResponse("The upstream sent a stream event too large to hold") from exc
        except GatewayError as error:  # upstream text (a status error, a mid-stream one) may echo the key
            error.message = redact(error.message, (target.api_key,))
            raise
