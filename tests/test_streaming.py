"""`respond_stream` with a recording `send`: status by first event, keep-alives, errors after the start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

from worker.dialects.workers import WorkersStreamEncoder, error_event
from worker.endpoints import render_workers_error
from worker.errors import UpstreamError
from worker.ir import Event, Finish, TextDelta, Usage, UsageEvent
from worker.streaming import respond_stream


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
