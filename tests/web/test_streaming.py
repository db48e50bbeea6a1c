"""`respond_stream` with a recording `send`: status by first event, keep-alives, errors after the start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from worker.core.errors import ClientClosed, UpstreamError
from worker.core.ir import Event, Finish, TextDelta, Usage, UsageEvent
from worker.dialects.workers_stream import WorkersStreamEncoder, error_event
from worker.surfaces.model_slug import render_workers_error
from worker.web.streaming import BURST_LIMIT, respond_stream


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])

    @property
    def complete(self) -> bool:
        return self.messages[-1]["type"] == "http.response.body" and not self.messages[-1].get(
            "more_body", False
        )


async def events(*items: Event | Exception | float) -> AsyncIterator[Event]:
    for item in items:
        if isinstance(item, float):
            await asyncio.sleep(item)
        elif isinstance(item, Exception):
            raise item
        else:
            yield item


async def run(source: AsyncIterator[Event], keepalive: float = 0.0) -> tuple[int, Recorder]:
    send = Recorder()
    status = await respond_stream(
        send,  # type: ignore[arg-type]
        source,
        WorkersStreamEncoder().encode,
        render_workers_error,
        error_event,
        keepalive,
        "rid",
    )
    return status, send


USAGE = UsageEvent(Usage(3, 2))


async def test_a_whole_stream() -> None:
    status, send = await run(events(TextDelta("a"), TextDelta("b"), Finish("stop"), USAGE))
    assert status == 200 and send.status == 200 and send.complete
    headers = dict(send.messages[0]["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"cache-control"] == b"no-cache"
    assert send.body.endswith(b"data: [DONE]\n\n")
    assert send.body.count(b"data: ") == 4


async def test_failure_before_the_first_byte_is_a_plain_json_error() -> None:
    status, send = await run(events(UpstreamError("The upstream answered 503")))
    assert status == 500 and send.status == 500 and send.complete
    assert dict(send.messages[0]["headers"])[b"content-type"] == b"application/json"
    assert orjson.loads(send.body)["error"] == "The upstream answered 503"


async def test_failure_after_the_first_byte_is_an_error_event_and_no_done() -> None:
    status, send = await run(events(TextDelta("partial"), UpstreamError("boom", {"upstream_status": 502})))
    assert status == 500 and send.status == 200 and send.complete
    last = send.body.split(b"\n\n")[-2]
    assert orjson.loads(last.removeprefix(b"data: ")) == {
        "error": "boom",
        "detail": {"code": "upstream_error", "upstream_status": 502},
    }
    assert b"[DONE]" not in send.body


async def test_an_unexpected_exception_after_the_start_is_still_reported_in_band() -> None:
    status, send = await run(events(TextDelta("partial"), KeyError("secret-detail-4711")))
    assert status == 500 and send.complete and b"[DONE]" not in send.body
    assert b'"error":"Unexpected failure"' in send.body and b"secret-detail" not in send.body


async def test_keepalives_while_silent_then_the_answer() -> None:
    before = len(asyncio.all_tasks())
    status, send = await run(events(0.35, TextDelta("late"), Finish("stop"), USAGE), keepalive=0.1)
    assert status == 200 and send.status == 200
    assert send.body.startswith(b": keep-alive\n\n")
    assert 2 <= send.body.count(b": keep-alive\n\n") <= 4
    assert send.body.endswith(b"data: [DONE]\n\n")
    assert len(asyncio.all_tasks()) == before  # the keep-alive timer is gone


async def test_failure_after_keepalives_is_an_error_event_on_the_200() -> None:
    status, send = await run(events(0.25, UpstreamError("gave up")), keepalive=0.1)
    assert status == 500 and send.status == 200
    assert send.body.startswith(b": keep-alive\n\n") and b'"error":"gave up"' in send.body


async def test_no_keepalive_while_events_flow() -> None:
    flowing = events(*[x for _ in range(6) for x in (0.03, TextDelta("t"))], Finish("stop"), USAGE)
    _, send = await run(flowing, keepalive=0.1)
    assert b"keep-alive" not in send.body


async def test_keepalives_resume_when_a_flowing_stream_falls_silent() -> None:
    source = events(TextDelta("a"), 0.35, TextDelta("b"), Finish("stop"), USAGE)
    _, send = await run(source, keepalive=0.1)
    first, rest = send.body.split(b"\n\n", 1)
    assert first.startswith(b"data: ") and b'"a"' in first
    before_b = rest.split(b'"b"', 1)[0]
    assert 2 <= before_b.count(b": keep-alive\n\n") <= 4


async def test_no_keepalive_once_the_stream_has_ended() -> None:
    send = Recorder()
    await respond_stream(
        send,  # type: ignore[arg-type]
        events(TextDelta("a"), Finish("stop"), USAGE),
        WorkersStreamEncoder().encode,
        render_workers_error,
        error_event,
        0.05,
        "rid",
    )
    count = len(send.messages)
    await asyncio.sleep(0.2)  # several intervals: a timer left behind would have sent by now
    assert len(send.messages) == count and send.complete


class SlowSend(Recorder):
    """A client whose socket is full: every body takes `delay` to go out, and nothing may interleave."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.busy = False
        self.overlapped = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if self.busy:
            self.overlapped = True
        self.busy = True
        try:
            await asyncio.sleep(self.delay)
            self.messages.append(message)
        finally:
            self.busy = False


async def test_a_keepalive_never_interleaves_with_an_event_write() -> None:
    send = SlowSend(0.04)
    source = events(0.12, TextDelta("a"), 0.09, TextDelta("b"), 0.11, TextDelta("c"), Finish("stop"), USAGE)
    status = await respond_stream(
        send,  # type: ignore[arg-type]
        source,
        WorkersStreamEncoder().encode,
        render_workers_error,
        error_event,
        0.05,
        "rid",
    )
    assert status == 200 and send.complete and not send.overlapped
    assert b": keep-alive\n\n" in send.body
    assert [b'"a"' in send.body, b'"b"' in send.body, b'"c"' in send.body] == [True, True, True]


def bodies(send: Recorder) -> list[bytes]:
    return [m["body"] for m in send.messages[1:]]


async def test_the_events_of_one_burst_leave_in_one_body_message() -> None:
    # The first event at once (time to first event), then everything produced without a wait in between
    # as one message; a pause (an upstream read) ends a burst.
    status, send = await run(
        events(TextDelta("a"), TextDelta("b"), TextDelta("c"), 0.01, TextDelta("d"), TextDelta("e"), USAGE)
    )
    assert status == 200 and send.complete
    event = WorkersStreamEncoder().encode
    a, b, c, d, e = (event(TextDelta(x)) for x in "abcde")
    assert bodies(send) == [a, b + c, d + e + event(USAGE), b""]


class FailingAfter(Recorder):
    """A client that leaves after `count` messages: the next send fails, as a closed socket's does."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    async def __call__(self, message: dict[str, Any]) -> None:
        if len(self.messages) >= self.count:
            raise ClientClosed()
        await super().__call__(message)


async def test_a_failed_burst_write_ends_the_stream_as_a_failed_write_did() -> None:
    send = FailingAfter(2)  # the start and the first event; the burst after them fails

    closed: list[bool] = []

    async def slow() -> AsyncIterator[Event]:
        try:
            yield TextDelta("a")
            yield TextDelta("b")
            await asyncio.sleep(0.01)  # the burst is flushed (and fails) while the producer waits
            yield TextDelta("c")
            await asyncio.sleep(10)  # never reached: the failure ends the stream at the write of "c"
            yield TextDelta("d")
        finally:
            closed.append(True)

    source = slow()
    with pytest.raises(ClientClosed):
        await respond_stream(
            send,  # type: ignore[arg-type]
            source,
            WorkersStreamEncoder().encode,
            render_workers_error,
            error_event,
            0.0,
            "rid",
        )
    assert len(send.messages) == 2
    assert closed == [True]  # the upstream iterator was closed


async def test_a_producer_that_never_waits_is_written_in_bursts_of_at_most_the_limit() -> None:
    # A fast upstream's buffered answer or the simulator without a pace: nothing is awaited between
    # events, so without a cap the whole answer would be held and sent as one message at the end.
    piece = TextDelta("x" * 1000)
    status, send = await run(events(*[piece] * 500, USAGE))
    assert status == 200 and send.complete
    sizes = [len(body) for body in bodies(send)]
    assert len(sizes) > 5 and max(sizes) <= BURST_LIMIT
    chunk = WorkersStreamEncoder().encode(piece)
    assert send.body == chunk * 500 + WorkersStreamEncoder().encode(USAGE)  # every byte, in order
