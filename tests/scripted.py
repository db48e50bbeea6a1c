"""A real local upstream that answers with scripted bytes, cut into scripted reads.

The simulator produces well-formed streams; this produces exactly the bytes a test names (odd line
ends, split events, a stream without `[DONE]`, an error object mid-stream, an HTML or JSON error), each
piece sent as its own write with a short pause so that it reaches the gateway as its own read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson

from worker.simulator.plumbing import answer_lifespan, read_all


@dataclass(frozen=True)
class Reply:
    status: int = 200
    content_type: bytes = b"text/event-stream"
    pieces: tuple[bytes, ...] = ()
    pause: float = 0.002


@dataclass
class ScriptedUpstream:
    """Pure ASGI: `POST .../chat/completions` answers the `Reply` named by the last message's text."""

    replies: dict[str, Reply]
    bodies: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        raw = await read_all(receive)
        body = orjson.loads(raw)
        self.bodies.append(body)
        reply = self.replies[body["messages"][-1]["content"]]
        headers = [(b"content-type", reply.content_type)]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        for piece in reply.pieces:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(reply.pause)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    """One `chat.completion.chunk` as the JSON text of an SSE data field."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return orjson.dumps({"id": "x", "object": "chat.completion.chunk", "choices": choices, **extra})
