"""The fake OpenAI-compatible upstream of the limits tests: it notes how many requests it holds at once
and how many tokens it served, can answer slowly or hold requests until told, and reports usage."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson

from worker.simulator.plumbing import answer_lifespan, read_all


class LimitsUpstream:
    def __init__(self, delay: float = 0.0, share: float | None = None) -> None:
        self.delay = delay
        self.share = share
        """Usage reported: this share of the request's `max_tokens` (None: 2 tokens)."""
        self.go = threading.Event()
        """Cleared: every request waits until it is set again."""
        self.go.set()
        self.now = self.most = self.seen = self.tokens = 0

    def reset(self) -> None:
        self.most = self.seen = self.tokens = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body = orjson.loads(await read_all(receive))
        self.now += 1
        self.seen += 1
        self.most = max(self.most, self.now)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if not self.go.is_set():
                await asyncio.to_thread(self.go.wait)
        finally:
            self.now -= 1
        completion = 2 if self.share is None else int((body.get("max_tokens") or 16) * self.share)
        self.tokens += 5 + completion
        message = {"role": "assistant", "content": "ok"}
        payload = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": completion, "total_tokens": 5 + completion},
        }
        head = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": orjson.dumps(payload)})
