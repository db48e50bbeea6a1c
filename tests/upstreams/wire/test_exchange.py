"""The one exchange every HTTP adapter runs, over an in-memory wire: the end-of-stream rules, `[DONE]`,
bounded reads, mid-stream errors in every adapter, and the redaction of every error message."""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tests.faults.upstream import brotli, zstandard
from worker.config.models import Target
from worker.core.errors import BadRequest, GatewayError, UpstreamBadResponse, UpstreamError
from worker.core.ir import ChatRequest, Event, Finish, Message, TextDelta, ToolCallDelta, Usage, UsageEvent
from worker.upstreams.chained import ChainedGateway
from worker.upstreams.openai_compat import OpenAICompatible
from worker.upstreams.wire.exchange import MAX_BODY_TAIL, HttpUpstream
from worker.upstreams.wire.seam import Timeouts
from worker.upstreams.wire.sse import MAX_EVENT_CHARS
from worker.upstreams.workers_ai import WorkersAI

KEY = "sk-very-secret-0042"
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


@dataclass
class Scripted:
    """One answer: status, headers, and the body in the pieces it arrives in."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: SSE)
    pieces: tuple[bytes, ...] = ()
    read: int = 0  # pieces handed out
    later: bool = False  # the exchange left the rest of the body to the wire's background drain

    async def _pieces(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.read += 1
            yield piece

    @property
    def status_code(self) -> int:
        return self.status

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._pieces()

    async def aread(self) -> bytes:
        self.read = len(self.pieces)
        return b"".join(self.pieces)

    def finish_in_background(self) -> None:
        self.later = True


@dataclass
class FakeWire:
    answer: Scripted
    posts: list[tuple[str, bytes, Mapping[str, str], Timeouts | None]] = field(default_factory=list)
    closed: bool = False

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeouts | None = None) -> Any:
        self.posts.append((url, body, headers, timeout))
        wire = self

        class Post:
            async def __aenter__(self) -> Scripted:
                return wire.answer

            async def __aexit__(self, *exc: object) -> None:
                wire.closed = True

        return Post()

    def connection_counts(self) -> tuple[int, int]:
        return 0, 0

    async def aclose(self) -> None:
        pass


ADAPTERS: dict[str, tuple[type[HttpUpstream], Target]] = {
    "openai": (OpenAICompatible, Target("openai", "http://up/v1", "m", KEY)),
    "workers-ai": (WorkersAI, Target("workers-ai", "http://cf/client/v4", "@cf/m", KEY, account_id="a")),
    "gateway": (ChainedGateway, Target("gateway", "http://next", "qwq-32b", KEY)),
}
ASK = ChatRequest(model="m", messages=(Message("user", "hi"),), stream=True)


async def run(
    adapter: str, answer: Scripted, request: ChatRequest = ASK, **target: Any
) -> tuple[list[Event], GatewayError | None, FakeWire]:
    kind, base = ADAPTERS[adapter]
    wire = FakeWire(answer)
    events: list[Event] = []
    try:
        async for event in kind(wire).events(request, dataclasses.replace(base, **target)):
            events.append(event)
    except GatewayError as error:
        return events, error, wire
    return events, None, wire


def sse(*objects: Any) -> bytes:
    return b"".join(b"data: " + (o if isinstance(o, bytes) else orjson.dumps(o)) + b"\n\n" for o in objects)


def delta(text: str, finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}


# --- the end-of-stream rules ----------------------------------------------------------------------


async def test_openai_streams_may_end_without_done_after_a_finish_reason() -> None:
    events, error, _ = await run("openai", Scripted(pieces=(sse(delta("a"), delta("", "stop")),)))
    assert error is None and events == [TextDelta("a"), Finish("stop")]


async def test_openai_streams_without_done_or_finish_were_cut() -> None:
    events, error, _ = await run("openai", Scripted(pieces=(sse(delta("half")),)))
    assert events == [TextDelta("half")]
    assert isinstance(error, UpstreamBadResponse) and error.detail == {"truncated": True}
    assert error.message == "The upstream stream ended before the answer was finished"


@pytest.mark.parametrize("adapter", ["workers-ai", "gateway"])
async def test_workers_streams_need_done(adapter: str) -> None:
    usage = {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    events, error, _ = await run(adapter, Scripted(pieces=(sse({"response": "a"}, usage),)))
    assert events == [TextDelta("a"), UsageEvent(Usage(1, 1))]
    assert isinstance(error, UpstreamBadResponse) and error.detail == {"truncated": True}
    assert error.message == "The upstream stream ended before [DONE]: the answer was cut short"


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_done_without_a_final_blank_line_still_ends_the_stream(adapter: str) -> None:
    chunk = delta("a") if adapter == "openai" else {"response": "a"}
    events, error, _ = await run(adapter, Scripted(pieces=(sse(chunk) + b"data: [DONE]",)))
    assert error is None and events == [TextDelta("a")]


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_after_done_nothing_is_decoded_and_the_rest_is_left_to_the_wire(adapter: str) -> None:
    """The answer ends at `[DONE]`, without waiting for the body's end: what follows is not the answer,
    and the wire reads it in the background (`wire.drain`, tested on both wires in test_wires.py)."""
    chunk = delta("a") if adapter == "openai" else {"response": "a"}
    answer = Scripted(pieces=(sse(chunk, b"[DONE]"), sse(chunk), b"\r\n", b""))
    events, error, wire = await run(adapter, answer)
    assert error is None and events == [TextDelta("a")]
    assert answer.read == 1 and answer.later and wire.closed


# --- errors: statuses, bounded bodies, mid-stream, oversized events, redaction ---------------------


async def test_an_error_body_is_read_only_so_far() -> None:
    answer = Scripted(503, JSON, (b'{"error": {"message": "no capacity"}}', *[b" " * 4096] * 40))
    _, error, _ = await run("openai", answer)
    assert isinstance(error, UpstreamError) and error.message == "The upstream answered 503: no capacity"
    assert answer.read == (MAX_BODY_TAIL // 4096) + 1


MID_STREAM = [
    {"error": {"message": f"model crashed, key {KEY}"}},
    {"object": "error", "message": f"out of memory, key {KEY}"},
    {"errors": [{"code": 3040, "message": f"capacity, key {KEY}"}], "success": False},
]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("report", MID_STREAM, ids=["openai", "vllm-flat", "cloudflare"])
async def test_every_adapter_reads_every_mid_stream_error_shape(adapter: str, report: dict[str, Any]) -> None:
    chunk = delta("a") if adapter == "openai" else {"response": "a"}
    events, error, _ = await run(adapter, Scripted(pieces=(sse(chunk, report, chunk),)))
    assert events == [TextDelta("a")]
    assert isinstance(error, UpstreamError) and error.message.startswith("The upstream failed mid-stream: ")
    assert KEY not in error.message and "key ***" in error.message


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_an_error_event_fails_every_adapters_stream(adapter: str) -> None:
    _, error, _ = await run(
        adapter, Scripted(pieces=(b"event: error\ndata: overloaded " + KEY.encode() + b"\n\n",))
    )
    assert (
        isinstance(error, UpstreamError) and error.message == "The upstream failed mid-stream: overloaded ***"
    )


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_an_endless_event_is_refused_by_every_adapter(adapter: str) -> None:
    piece = b"x" * (1024 * 1024)
    count = MAX_EVENT_CHARS // len(piece) + 1
    _, error, wire = await run(adapter, Scripted(pieces=(b"data: ", *[piece] * count)))
    assert isinstance(error, UpstreamBadResponse)
    assert error.message == "The upstream sent a stream event too large to hold"
    assert wire.closed


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
async def test_every_adapters_error_table_is_redacted(adapter: str, status: int) -> None:
    """The upstream's words may echo the key we sent; whichever table words the error, it is redacted."""
    body = orjson.dumps(
        {"error": {"message": f"bad key {KEY}"}, "errors": [{"code": 1, "message": f"bad key {KEY}"}]}
    )
    _, error, _ = await run(adapter, Scripted(status, JSON, (body,)))
    assert error is not None and KEY not in error.message


async def test_an_unsuccessful_cloudflare_envelope_is_redacted_too() -> None:
    body = orjson.dumps({"success": False, "result": None, "errors": [{"code": 3040, "message": f"k {KEY}"}]})
    _, error, _ = await run("workers-ai", Scripted(200, JSON, (body,)), ChatRequest(model="m"))
    assert error is not None and error.message == "Workers AI is over capacity: k ***"


# --- bodies, requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "body"),
    [
        ("openai", {"choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}]}),
        ("workers-ai", {"success": True, "errors": [], "result": {"response": "whole"}}),
        ("gateway", {"response": "whole"}),
    ],
)
async def test_a_json_answer_to_a_stream_request_is_read_whole(adapter: str, body: dict[str, Any]) -> None:
    events, error, _ = await run(adapter, Scripted(200, JSON, (orjson.dumps(body),)))
    assert error is None and events[0] == TextDelta("whole")


async def test_the_answers_content_type_decides_how_it_is_read() -> None:
    """A stream sent to a request that did not ask for one is still read as the stream it is."""
    plain = ChatRequest(model="m", messages=(Message("user", "hi"),))
    events, error, _ = await run("openai", Scripted(pieces=(sse(delta("s", "stop"), b"[DONE]"),)), plain)
    assert error is None and events == [TextDelta("s"), Finish("stop")]


async def test_workers_tool_calls_are_numbered_across_events() -> None:
    call = {"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}
    events, error, _ = await run("workers-ai", Scripted(pieces=(sse(call, call, b"[DONE]"),)))
    assert error is None
    assert [(e.index, e.name, e.arguments) for e in events if isinstance(e, ToolCallDelta)] == [
        (0, "f", '{"a":1}'),
        (1, "f", '{"a":1}'),
    ]


async def test_the_request_carries_the_targets_timeouts_headers_and_body() -> None:
    _, _, wire = await run("openai", Scripted(pieces=(b"data: [DONE]\n\n",)), idle_timeout=9.0)
    url, body, headers, timeout = wire.posts[0]
    assert url == "http://up/v1/chat/completions" and orjson.loads(body)["stream"] is True
    assert headers == {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    assert timeout == Timeouts(connect=None, read=9.0, pool=None)
    _, _, wire = await run("workers-ai", Scripted(pieces=(b"data: [DONE]\n\n",)))
    assert wire.posts[0][0] == "http://cf/client/v4/accounts/a/ai/run/@cf/m" and wire.posts[0][3] is None
    assert wire.posts[0][2]["accept"] == "application/json, text/event-stream"


async def test_a_refused_request_fails_on_iteration_not_on_the_call() -> None:
    """The router retries what fails while it waits for the first event; an error raised by the call
    itself would escape it."""
    raw = ChatRequest(model="m", prompt="<|im_start|>", raw=True)
    wire = FakeWire(Scripted())
    events = OpenAICompatible(wire).events(raw, Target("openai", "http://up/v1", "m", raw_completions=False))
    with pytest.raises(BadRequest, match="Raw prompts"):
        await anext(events)
    assert wire.posts == []


# --- streams that answer nothing, compressed answers, the body cap ---------------------------------

EMPTY_STREAMS = {
    "done-only": (b"[DONE]",),
    "no-choices": ({"id": "x", "object": "chat.completion.chunk", "choices": []}, b"[DONE]"),
    "role-only": ({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}, b"[DONE]"),
    "usage-only": ({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0}}, b"[DONE]"),
}


@pytest.mark.parametrize("stream", EMPTY_STREAMS.values(), ids=list(EMPTY_STREAMS))
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_stream_with_no_content_and_no_finish_is_no_answer(
    adapter: str, stream: tuple[Any, ...]
) -> None:
    events, error, _ = await run(adapter, Scripted(pieces=(sse(*stream),)))
    assert isinstance(error, UpstreamBadResponse), events
    assert error.message == "The upstream's stream ended without any content or finish: no answer"
    # the same when `[DONE]` is the last, unterminated line
    _, error, _ = await run(adapter, Scripted(pieces=(sse(*stream[:-1]) + b"data: [DONE]",)))
    assert isinstance(error, UpstreamBadResponse)


async def test_a_finish_alone_is_an_answer() -> None:
    events, error, _ = await run("openai", Scripted(pieces=(sse(delta("", "stop"), b"[DONE]"),)))
    assert error is None and events == [Finish("stop")]


def compress(name: str, data: bytes) -> bytes:
    if name == "gzip":
        return gzip.compress(data)
    if name == "deflate":
        return zlib.compress(data)
    if name == "br":
        return bytes(brotli.compress(data))
    return bytes(zstandard.ZstdCompressor().compress(data))


ENCODINGS = ["gzip", "deflate", "br", "zstd"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_compressed_stream_is_decoded_as_it_arrives(adapter: str, encoding: str) -> None:
    chunks = [delta(f"w{i} ") if adapter == "openai" else {"response": f"w{i} "} for i in range(50)]
    packed = compress(encoding, sse(*chunks, b"[DONE]"))
    pieces = tuple(packed[at : at + 7] for at in range(0, len(packed), 7))  # cut anywhere
    headers = {**SSE, "content-encoding": encoding}
    events, error, _ = await run(adapter, Scripted(headers=headers, pieces=pieces))
    assert error is None and "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(
        f"w{i} " for i in range(50)
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_compressed_body_is_decoded(encoding: str) -> None:
    body = {"choices": [{"message": {"content": "zipped"}, "finish_reason": "stop"}]}
    packed = compress(encoding, orjson.dumps(body))
    headers = {**JSON, "content-encoding": encoding, "content-length": str(len(packed))}
    plain = dataclasses.replace(ASK, stream=False)
    events, error, wire = await run("openai", Scripted(headers=headers, pieces=(packed,)), plain)
    assert error is None and events == [TextDelta("zipped"), Finish("stop")]
    # a non-streamed request offers exactly what can be decoded; a stream asks for none (identity)
    assert wire.posts[0][2]["accept-encoding"] == "gzip, deflate, br, zstd"


async def test_an_unknown_or_corrupt_encoding_is_a_bad_response() -> None:
    headers = {**SSE, "content-encoding": "compress"}
    _, error, _ = await run("openai", Scripted(headers=headers, pieces=(b"\x1f\x9d...",)))
    assert isinstance(error, UpstreamBadResponse)
    assert (
        error.message == "The upstream answered with a content encoding the gateway cannot decode: 'compress'"
    )
    headers = {**SSE, "content-encoding": "gzip"}
    _, error, _ = await run("openai", Scripted(headers=headers, pieces=(b"not gzip at all",)))
    assert isinstance(error, UpstreamBadResponse) and "does not decompress" in error.message
    packed = compress("gzip", sse(delta("a", "stop"), b"[DONE]"))
    _, error, _ = await run("openai", Scripted(headers=headers, pieces=(packed[:-12],)))  # cut
    assert isinstance(error, UpstreamBadResponse)


async def test_a_compressed_error_body_still_gives_its_message() -> None:
    packed = compress("gzip", b'{"error": {"message": "no capacity"}}')
    headers = {**JSON, "content-encoding": "gzip"}
    _, error, _ = await run("openai", Scripted(503, headers, (packed,)))
    assert isinstance(error, UpstreamError) and error.message == "The upstream answered 503: no capacity"
    _, error, _ = await run("openai", Scripted(503, {**JSON, "content-encoding": "snappy"}, (b"?",)))
    assert isinstance(error, UpstreamError) and error.message == "The upstream answered 503"


async def test_a_body_over_the_cap_is_refused() -> None:
    plain = dataclasses.replace(ASK, stream=False)
    body = orjson.dumps({"choices": [{"message": {"content": "x" * 5000}, "finish_reason": "stop"}]})
    wire = FakeWire(Scripted(headers={**JSON, "content-length": str(len(body))}, pieces=(body,)))
    target = ADAPTERS["openai"][1]
    with pytest.raises(UpstreamBadResponse, match="UPSTREAM_MAX_BODY_BYTES"):
        async for _ in OpenAICompatible(wire, max_body=4096).events(plain, target):
            pass
    assert wire.answer.read == 0  # refused on its declared length, unread
    # without a length, and compressed (a small body that inflates past the cap)
    packed = compress("gzip", body)
    wire = FakeWire(Scripted(headers={**JSON, "content-encoding": "gzip"}, pieces=(packed,)))
    with pytest.raises(UpstreamBadResponse, match="UPSTREAM_MAX_BODY_BYTES"):
        async for _ in OpenAICompatible(wire, max_body=4096).events(plain, target):
            pass
    # a stream answering a non-streamed request is held whole: capped too; a streamed one is not
    stream = sse(*[delta("x" * 100)] * 100, delta("", "stop"), b"[DONE]")
    wire = FakeWire(Scripted(pieces=(stream,)))
    with pytest.raises(UpstreamBadResponse, match="UPSTREAM_MAX_BODY_BYTES"):
        async for _ in OpenAICompatible(wire, max_body=4096).events(plain, target):
            pass
    wire = FakeWire(Scripted(pieces=(stream,)))
    assert len([e async for e in OpenAICompatible(wire, max_body=4096).events(ASK, target)]) == 101
