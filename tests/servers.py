"""Real servers for tests: uvicorn on a real socket, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import uvicorn

from worker.simulator.plumbing import answer_lifespan, read_all


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A uvicorn server running `app` on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def call(self, coro: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's own loop (to inspect its tasks or connections)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextmanager
def serving(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class FaultServer:
    """A real OpenAI-compatible upstream that misbehaves on cue, for the resilience tests.

    `script` is the behaviour of successive requests (the last one repeats): `ok`; `500`; `429` (with
    `Retry-After: <retry_after>`); `401`; `reset` (headers and half a body, then the connection
    drops); `slow:<s>` (headers held back <s> seconds); `stall` (stream headers, then silence; a plain
    answer that never comes); `stall-late` (silence after some content); `shape` (a 200 that is not a
    completion); `cut` (a stream that ends before any content, finish or `[DONE]`); `cut-late` (the
    same after some content). It answers `answer`, so a test can tell which upstream spoke.
    """

    def __init__(
        self, script: list[str], answer: str = "Hello from the upstream.", retry_after: str = "0"
    ) -> None:
        self.script = script
        self.answer = answer
        self.retry_after = retry_after
        self.attempts = 0
        self.authorizations: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body = await read_all(receive)
        step = self.script[min(self.attempts, len(self.script) - 1)]
        self.attempts += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.authorizations.append(headers.get("authorization", ""))
        stream = orjson.loads(body).get("stream", False)
        await self._play(step, stream, receive, send)

    async def _play(self, step: str, stream: bool, receive: Any, send: Any) -> None:
        if step in ("500", "429", "401"):
            extra = [(b"retry-after", self.retry_after.encode())] if step == "429" else []
            error = {"error": {"message": f"fault {step}"}}
            await _send_json(send, int(step), error, extra)
            return
        if step.startswith("slow:") and await _pause(receive, float(step[5:])):
            return
        if step == "shape":
            await _send_json(send, 200, {"object": "chat.completion", "text": "no choices"})
            return
        if step == "reset":
            start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4000")]}
            await send(start)
            await send({"type": "http.response.body", "body": b'{"choices": [', "more_body": True})
            raise ConnectionResetError("simulated reset mid-body")
        if step == "stall" and not stream:
            await _pause(receive, 3600)
            return
        if not stream:
            message = {"role": "assistant", "content": self.answer}
            usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            await _send_json(send, 200, {"object": "chat.completion", "choices": [choice], "usage": usage})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )

        async def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            data = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(data) + b"\n\n",
                    "more_body": True,
                }
            )

        if step in ("cut", "stall"):
            if step == "stall":
                await _pause(receive, 3600)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        words = self.answer.split(" ")
        for i, word in enumerate(words):
            if i == len(words) // 2 and step in ("stall-late", "cut-late"):
                if step == "stall-late":
                    await _pause(receive, 3600)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await chunk({"content": word if i == 0 else " " + word})
        await chunk({}, "stop")
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _pause(receive: Any, seconds: float) -> bool:
    """Wait `seconds`, or less if the client goes away (then True): a stalled handler must not outlive
    its connection, or the server could not shut down."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return False
    return True


async def _send_json(
    send: Any, status: int, data: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(data)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
