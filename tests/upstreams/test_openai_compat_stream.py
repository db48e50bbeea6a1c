"""The OpenAI-compatible adapter reading streams from a real local server that sends scripted bytes,
over both wires (aiohttp, the default; httpx, under a proxy)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.scripted import Reply, ScriptedUpstream, chunk
from tests.servers import LiveServer, serving
from worker.config.models import Target
from worker.core.errors import BadRequest, GatewayError, RateLimited, UpstreamBadResponse, UpstreamError
from worker.core.ir import ChatRequest, Event, Finish, Message, ReasoningDelta, TextDelta, Usage, UsageEvent
from worker.upstreams.openai_compat import OpenAICompatible
from worker.upstreams.wire.aiohttp_wire import AiohttpWire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.seam import Wire

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
WELL_FORMED = (
    b": hello from the upstream\n\n"
    + b"data: "
    + chunk({"role": "assistant", "content": ""})
    + b"\n\n"
    + b"data: "
    + chunk({"reasoning_content": "Hmm é"})
    + b"\r\n\r\n"
    + b"event: message\rdata:"
    + chunk({"content": "Hi 🤔"})
    + b"\r\r"
    + b"data: "
    + chunk({}, "stop")
    + b"\n\ndata: "
    + chunk(None, usage=USAGE)
    + b"\n\ndata: [DONE]\n\n"
)
WELL_FORMED_EVENTS: list[Event] = [
    ReasoningDelta("Hmm é"),
    TextDelta("Hi 🤔"),
    Finish("stop"),
    UsageEvent(Usage(5, 3)),
]


def _pieces(data: bytes, size: int) -> tuple[bytes, ...]:
    return tuple(data[i : i + size] for i in range(0, len(data), size))


REPLIES = {
    "whole": Reply(pieces=(WELL_FORMED,)),
    "bytewise": Reply(pieces=_pieces(WELL_FORMED, 1), pause=0.0005),
    "sevens": Reply(pieces=_pieces(WELL_FORMED, 7)),
    "no-done-finished": Reply(
        pieces=(b"data: " + chunk({"content": "ok"}) + b"\n\ndata: " + chunk({}, "length"),)
    ),
    "no-done-cut": Reply(pieces=(b"data: " + chunk({"content": "half an ans"}) + b"\n\n",)),
    "error-mid-stream": Reply(
        pieces=(
            b"data: " + chunk({"content": "partial"}) + b"\n\n",
            b'data: {"error": {"message": "model crashed", "type": "server_error"}}\n\n',
        )
    ),
    "flat-error-mid-stream": Reply(
        pieces=(b'data: {"object": "error", "message": "out of memory", "code": 500}\n\n',)
    ),
    "event-error": Reply(pieces=(b"event: error\ndata: overloaded, try later\n\n",)),
    "json-503": Reply(503, b"application/json", (b'{"error": {"message": "no capacity"}}',)),
    "json-429": Reply(429, b"application/json", (b'{"error": {"message": "slow down"}}',)),
    "json-400": Reply(400, b"application/json", (b'{"object": "error", "message": "bad max_tokens"}',)),
    "html-200": Reply(200, b"text/html", (b"<html>oops</html>",)),
    "not-json-event": Reply(pieces=(b"data: {not json\n\n",)),
    "bad-choice": Reply(pieces=(b'data: {"choices": ["nope"]}\n\n',)),
    "endless-line": Reply(pieces=(b"data: ", *([b"x" * (1024 * 1024)] * 5))),
    "echoes-key": Reply(pieces=(b'data: {"error": {"message": "bad key sk-secret for this model"}}\n\n',)),
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[LiveServer]:
    with serving(ScriptedUpstream(REPLIES)) as server:
        yield server


@pytest.fixture(params=["aiohttp", "httpx"])
async def wire(request: pytest.FixtureRequest) -> AsyncIterator[Wire]:
    made: Wire = AiohttpWire(4) if request.param == "aiohttp" else HttpxWire.pooled(4, 4)
    yield made
    await made.aclose()


async def stream(upstream: LiveServer, name: str, wire: Wire) -> tuple[list[Event], GatewayError | None]:
    request = ChatRequest(model="m", messages=(Message("user", name),), stream=True)
    target = Target("openai", f"{upstream.url}/v1", "Qwen/QwQ-32B", "sk-secret")
    events: list[Event] = []
    try:
        async for event in OpenAICompatible(wire).events(request, target):
            events.append(event)
    except GatewayError as error:
        return events, error
    return events, None


@pytest.mark.parametrize("name", ["whole", "bytewise", "sevens"])
async def test_a_well_formed_stream_however_it_is_cut(upstream: LiveServer, wire: Wire, name: str) -> None:
    assert await stream(upstream, name, wire) == (WELL_FORMED_EVENTS, None)


async def test_asks_for_usage_in_the_stream(upstream: LiveServer, wire: Wire) -> None:
    await stream(upstream, "whole", wire)
    sent = upstream.app.bodies[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_end_without_done_is_accepted_after_a_finish_reason(upstream: LiveServer, wire: Wire) -> None:
    events, error = await stream(upstream, "no-done-finished", wire)
    assert error is None and events == [TextDelta("ok"), Finish("length")]


async def test_end_without_done_or_finish_is_an_error_not_an_answer(upstream: LiveServer, wire: Wire) -> None:
    events, error = await stream(upstream, "no-done-cut", wire)
    assert events == [TextDelta("half an ans")]
    assert isinstance(error, UpstreamBadResponse) and "ended before" in error.message


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("error-mid-stream", "model crashed"),
        ("flat-error-mid-stream", "out of memory"),
        ("event-error", "overloaded, try later"),
        ("echoes-key", "bad key *** for this model"),
    ],
)
async def test_an_error_in_the_stream_raises(
    upstream: LiveServer, wire: Wire, name: str, needle: str
) -> None:
    events, error = await stream(upstream, name, wire)
    assert isinstance(error, UpstreamError) and needle in error.message
    assert events == ([TextDelta("partial")] if name == "error-mid-stream" else [])


@pytest.mark.parametrize(
    ("name", "kind", "needle"),
    [
        ("json-503", UpstreamError, "answered 503: no capacity"),
        ("json-429", RateLimited, "slow down"),
        ("json-400", BadRequest, "bad max_tokens"),
        ("html-200", UpstreamBadResponse, "not JSON"),
        ("not-json-event", UpstreamBadResponse, "not JSON"),
        ("bad-choice", UpstreamBadResponse, "malformed choice"),
        ("endless-line", UpstreamBadResponse, "too large to hold"),
    ],
)
async def test_a_non_sse_or_broken_answer_to_a_stream_request(
    upstream: LiveServer, wire: Wire, name: str, kind: type[GatewayError], needle: str
) -> None:
    events, error = await stream(upstream, name, wire)
    assert events == []
    assert isinstance(error, kind) and needle in error.message
    assert "sk-secret" not in error.message
