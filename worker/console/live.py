"""The live request log: metadata of recently finished requests, streamed to admin pages over SSE.

`LiveLog.sink` is a record sink (`worker.core.outcome`), registered only while a live page is open:
called on the event loop after each answer,
it turns the record into a small dictionary of figures and names (never a body, a header or a key),
keeps the last `CAPACITY` in a ring buffer and puts it on each subscriber's bounded queue, dropping it
for a subscriber that has fallen behind rather than waiting for one. `GET /admin/v1/requests/live`
sends the buffer, then each new request as one SSE `data:` event, with a comment every
`HEARTBEAT` seconds so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import orjson

from worker.core.errors import GatewayError
from worker.core.outcome import RecordSink, RequestRecord
from worker.observe.prices import Prices
from worker.state import AppState
from worker.web.asgi import Receive, Scope, Send, header, send_json
from worker.web.auth import require_admin_key

CAPACITY = 200
QUEUE_SIZE = 256
HEARTBEAT = 15.0
LIVE_PATH = "/admin/v1/requests/live"
_QUIET = ("/console/", LIVE_PATH)  # the console's own files and this stream would drown the log


def entry_of(record: RequestRecord, prices: Prices) -> dict[str, Any]:
    usage = record.usage
    return {
        "id": record.request_id,
        "time": round(record.started_at, 3),
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "surface": record.surface,
        "model": record.model,
        "key_id": record.key_id,
        "target": record.target,
        "attempts": record.attempts,
        "streamed": record.streamed,
        "error_code": record.error_code,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cost_usd": round(prices.cost(record), 8) if usage else None,
        "ttft_ms": None
        if record.time_to_first_token is None
        else round(record.time_to_first_token * 1000, 1),
        "duration_ms": round(record.duration * 1000, 1),
    }


class LiveLog:
    def __init__(self, sinks: list[RecordSink], prices: Prices, capacity: int = CAPACITY) -> None:
        self.sinks = sinks
        self.prices = prices
        self.recent: deque[bytes] = deque(maxlen=capacity)
        self.subscribers: set[asyncio.Queue[bytes]] = set()

    def subscribe(self, queue: asyncio.Queue[bytes]) -> None:
        """The sink is heard only while someone watches: with no live page open, requests cost nothing."""
        self.subscribers.add(queue)
        if self.sink not in self.sinks:
            self.sinks.append(self.sink)

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self.subscribers.discard(queue)
        if not self.subscribers and self.sink in self.sinks:
            self.sinks.remove(self.sink)

    def sink(self, record: RequestRecord) -> None:
        if record.path == "/" or record.path.startswith(_QUIET):
            return
        event = b"data: " + orjson.dumps(entry_of(record, self.prices)) + b"\n\n"
        self.recent.append(event)
        for queue in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):  # a slow page misses lines; nobody waits
                queue.put_nowait(event)


class LiveEndpoint:
    """`GET /admin/v1/requests/live`: admin keys only (401 without a key, 403 for another key)."""

    def __init__(self, state: AppState, live: LiveLog) -> None:
        self.state = state
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if not self.state.keys.open:  # ALLOW_NO_AUTH without keys: a development gateway, anyone is admin
                await require_admin_key(
                    self.state.keys, self.state.key_cache, header(scope, b"authorization")
                )
        except GatewayError as error:
            body = orjson.dumps({"error": error.message, "detail": error.detail})
            await send_json(send, error.status, body)
            return
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self.live.subscribe(queue)
        try:
            headers = [
                (b"content-type", b"text/event-stream"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            backlog = b"".join(self.live.recent) or b": no requests yet\n\n"
            await send({"type": "http.response.body", "body": backlog, "more_body": True})
            await self.pump(queue, receive, send)
        finally:
            self.live.unsubscribe(queue)

    async def pump(self, queue: asyncio.Queue[bytes], receive: Receive, send: Send) -> None:
        """Forward events until the client leaves (its `http.disconnect` ends the stream)."""
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            while not gone.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, gone}, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    await send({"type": "http.response.body", "body": getter.result(), "more_body": True})
                    continue
                getter.cancel()
                if not done:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
        except OSError:
            return  # the socket went away between two events
        finally:
            gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
