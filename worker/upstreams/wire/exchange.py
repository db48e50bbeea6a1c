"""One upstream exchange, for every HTTP adapter: POST, then the error table, the whole body, or the one
SSE loop.

`HttpUpstream.events` is the only code that reads an upstream's answer. An adapter subclasses it and
says, in `prepare`, where to send what (URL, payload from its parameter map, headers) and how its
answers look (`WireFormat`: error table, body decoder, chunk decoder, end rule). Everything else is
here, once: bounded error bodies, `[DONE]`, the end-of-stream rule, mid-stream errors, the secrets
redaction of every error message (upstream text can echo the key we sent).

The loop is the adapter's own generator (no nested generator per stream: every layer would cost each
event a resumption), and it reads the little that follows `[DONE]` so the connection goes back to the
pool instead of being closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple

import orjson

from worker.config.models import Target
from worker.core.errors import GatewayError, UpstreamBadResponse
from worker.core.ir import ChatRequest, UpstreamEvent
from worker.observe.context import upstream_headers
from worker.upstreams.wire.decode import WireFormat, stream_object
from worker.upstreams.wire.seam import Answer, Wire, request_timeout
from worker.upstreams.wire.sse import SSEDecoder, SSETooLarge
from worker.upstreams.wire.status import redact

# The most of an error answer (or of what follows `[DONE]`) that is read: enough for any message, and
# bounded so that a misbehaving upstream cannot make the gateway buffer without end.
MAX_BODY_TAIL = 64 * 1024


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


async def read_bounded(answer: Answer, limit: int = MAX_BODY_TAIL) -> bytes:
    """At most `limit` bytes of a body (an error answer's message does not need more)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in answer.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


async def _drain(chunks: AsyncIterator[bytes], limit: int = MAX_BODY_TAIL) -> None:
    """Read what follows `[DONE]` (usually just the end of the chunked body): an answer read to its end
    hands its connection back to the pool for the next request, while one closed early costs a new TCP
    (and TLS) connection every time."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return


class HttpUpstream:
    """Base of the HTTP adapters. Subclasses implement `prepare`; the wire belongs to the application."""

    def __init__(self, wire: Wire) -> None:
        self._wire = wire

    async def aclose(self) -> None:
        """The wire is shared and belongs to the application, which closes it."""

    def prepare(self, request: ChatRequest, target: Target) -> Call:
        raise NotImplementedError

    async def events(self, request: ChatRequest, target: Target) -> AsyncIterator[UpstreamEvent]:
        try:
            call = self.prepare(request, target)
            form = call.format
            async with self._wire.post(call.url, call.body, call.headers, request_timeout(target)) as answer:
                status = answer.status_code
                if status >= 400:
                    raise form.errors(status, await read_bounded(answer), answer.headers)
                if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                    for event in form.body(await answer.aread()):
                        yield event
                    return
                decoder = SSEDecoder()
                chunks = form.chunks()
                decode = chunks.decode
                body = answer.aiter_bytes()
                async for piece in body:
                    for sse in decoder.feed(piece):
                        if sse.data == "[DONE]":
                            await _drain(body)
                            return
                        for event in decode(stream_object(sse)):
                            yield event
                for sse in decoder.close():
                    if sse.data == "[DONE]":
                        return
                    for event in decode(stream_object(sse)):
                        yield event
                if not (form.end.finish_suffices and chunks.finished):
                    raise UpstreamBadResponse(form.end.message, {"truncated": True})
        except SSETooLarge as exc:
            raise UpstreamBadResponse("The upstream sent a stream event too large to hold") from exc
        except GatewayError as error:  # upstream text (a status error, a mid-stream one) may echo the key
            error.message = redact(error.message, (target.api_key,))
            raise
