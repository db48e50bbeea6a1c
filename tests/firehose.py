"""A minimal, fast OpenAI-compatible streaming upstream: the same text piece, as fast as it can be sent.

    python -m tests.firehose --port 9200 --events 1000 --piece-bytes 16

Where the simulator models QwQ, this models nothing: it exists to measure and to load the gateway's
streaming path (per-event cost, backpressure) with as little upstream work as possible. Every answer is
`events` content chunks (`max_tokens` in the request overrides the count), a finish chunk, a usage
chunk and `[DONE]`. `stats` counts the events it managed to hand to the server (each `send` waits
while the socket is full, so this is how far the reader really let it get), and finished and cancelled
answers, so tests can see a slow reader hold the upstream back.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

from worker.simulator.plumbing import answer_lifespan


@dataclass
class FirehoseStats:
    received: int = 0
    sent_events: int = 0
    sent_bytes: int = 0
    finished: int = 0
    cancelled: int = 0


class Firehose:
    """Pure ASGI; `POST .../chat/completions` streams, anything else answers 404."""

    def __init__(self, events: int = 1000, piece_bytes: int = 16) -> None:
        self.events = events
        self.piece = "x" * max(1, piece_bytes)
        self.stats = FirehoseStats()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if not scope["path"].endswith("/chat/completions"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = orjson.loads(raw)
        self.stats.received += 1
        count = body.get("max_tokens") or self.events
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            if await self._stream(send, int(count), gone):
                self.stats.finished += 1
            else:
                self.stats.cancelled += 1
        finally:
            watcher.cancel()

    async def _stream(self, send: Any, count: int, gone: asyncio.Event) -> bool:
        """Stream the answer; False if the reader left before its end."""
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        head = {
            "id": "chatcmpl-firehose",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "firehose",
        }

        def frame(payload: dict[str, Any]) -> bytes:
            return b"data: " + orjson.dumps({**head, **payload}) + b"\n\n"

        piece = frame({"choices": [{"index": 0, "delta": {"content": self.piece}, "finish_reason": None}]})
        stats = self.stats
        for _ in range(count):
            if gone.is_set():
                return False
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            stats.sent_events += 1
            stats.sent_bytes += len(piece)
        usage = {"prompt_tokens": 1, "completion_tokens": count, "total_tokens": count + 1}
        tail = (
            frame({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            + frame({"choices": [], "usage": usage})
            + b"data: [DONE]\n\n"
        )
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        return True


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="A minimal, fast OpenAI-compatible streaming upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--piece-bytes", type=int, default=16)
    args = parser.parse_args()
    uvicorn.run(Firehose(args.events, args.piece_bytes), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
