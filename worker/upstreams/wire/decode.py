"""What every upstream answer shares, parsed once: JSON bodies, stream events, usage, mid-stream errors;
and `WireFormat`, the description of one upstream API's answers that an adapter hands to the exchange.

Mid-stream errors come in three shapes, and every adapter accepts all three (an OpenAI-compatible server
behind Cloudflare's AI Gateway can answer in Cloudflare's):

    {"error": {"message": ...}} or {"error": "..."}     OpenAI, and most servers copying it
    {"object": "error", "message": ...}                  older vLLM, flat
    {"errors": [{"code", "message"}], "success": false}  Cloudflare's envelope
    event: error  (any data)                             some servers: the stream failed, whatever it says
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from worker.core.errors import GatewayError, UpstreamBadResponse, UpstreamError
from worker.core.ir import UpstreamEvent, Usage
from worker.upstreams.wire.sse import ServerSentEvent
from worker.upstreams.wire.status import MAX_MESSAGE, error_message

# (status, body, headers) -> the error the client gets; `wire.status.error_for_status` is the default.
ErrorTable = Callable[[int, bytes, Mapping[str, str]], GatewayError]


class ChunkDecoder(Protocol):
    """Turns the JSON objects of one stream into events; one instance per stream, so it may keep state
    (Workers AI numbers tool calls across events)."""

    finished: bool  # a finish reason came: see `StreamEnd.finish_suffices`

    def decode(self, data: dict[str, Any]) -> list[UpstreamEvent]:
        """A list, not a generator: this runs once per streamed chunk, and a generator's frame and its
        `StopIteration` cost more than the one or two events most chunks carry."""
        ...


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """How a stream may end. `[DONE]` always ends it; an end without `[DONE]` was cut short (an error
    with `message`), unless `finish_suffices` and a finish reason came (several OpenAI-compatible
    servers omit `[DONE]`)."""

    message: str
    finish_suffices: bool = False


@dataclass(frozen=True, slots=True)
class WireFormat:
    """How one upstream API answers: error table, whole-body decoder, chunk decoder, end rule."""

    errors: ErrorTable
    body: Callable[[bytes], Iterable[UpstreamEvent]]
    chunks: Callable[[], ChunkDecoder]
    end: StreamEnd


def json_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The upstream answered with a body that is not JSON") from exc


def usage(raw: Any) -> Usage | None:
    """The usage block of every upstream spoken here: OpenAI's, with reasoning tokens in
    `completion_tokens_details`, and the `estimated` mark a chained gateway puts on counts it
    estimated (kept, so nobody bills them as exact)."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt, completion, reasoning if isinstance(reasoning, int) else None, raw.get("estimated") is True
    )


def failed_mid_stream(message: str) -> UpstreamError:
    return UpstreamError(f"The upstream failed mid-stream: {message[:MAX_MESSAGE]}")


def stream_error(data: Mapping[str, Any]) -> UpstreamError | None:
    """The error an upstream reports in a stream event, in any of the shapes above; None if it is none."""
    if (
        "error" in data
        or data.get("object") == "error"
        or (data.get("success") is False and "errors" in data)
    ):
        return failed_mid_stream(error_message(data))
    return None


def stream_object(sse: ServerSentEvent) -> dict[str, Any]:
    """The JSON object one stream event carries; an error the upstream reports is raised."""
    data = sse.data
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if sse.event == "error":
            raise failed_mid_stream(data) from None
        raise UpstreamBadResponse("The upstream sent a stream event that is not JSON") from exc
    if not isinstance(decoded, dict):
        if sse.event == "error":
            raise failed_mid_stream(data)
        raise UpstreamBadResponse("The upstream sent a stream event that is not an object")
    # One cheap test per chunk before the full look: a normal chunk has none of these keys.
    if "error" in decoded or "errors" in decoded or decoded.get("object") == "error" or sse.event == "error":
        error = stream_error(decoded)
        if error is not None:
            raise error
        if sse.event == "error":
            raise failed_mid_stream(data)
    return decoded
