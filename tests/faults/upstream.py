"""A real-socket OpenAI-compatible upstream that breaks in every way an upstream can, on cue.

Plain asyncio streams, not an HTTP framework: a fault such as "reset before the headers", "headers
then silence" or "the body stays open after `[DONE]`" needs control of every byte and of the socket.
It speaks just enough HTTP/1.1 for the gateway's wires: keep-alive, `Content-Length` request bodies,
chunked or sized answers.

The fault is named in the request: the last message's text contains `fault:<name>` (or `fault:<name>:<n>`,
`n` a size in MiB for `huge`). Every fault answers streamed and non-streamed requests alike, so a
stream-only fault (`done-only`) also shows what a non-streamed request makes of a stream.

    ok                 a normal answer (`ANSWER`)
    reset-early        the connection is reset before any header
    reset-late         headers and part of the body, then a reset
    slow-headers       the headers come after 30 s
    stall              headers, then silence
    429                rate limited, `Retry-After: 7`
    500, 503-html      a 500 JSON error; a 503 HTML page (a load balancer's)
    shape              200 JSON that is not a completion
    html               200 text/html
    truncated-json     200 JSON cut in the middle (a complete HTTP body)
    missing-done       a stream of content that ends without finish or `[DONE]`
    trickle            a stream of SSE comments every 50 ms, forever (no event ever)
    drip               a stream of content every 50 ms, forever
    gzip, deflate, br, zstd    the normal answer, compressed (streams flushed event by event)
    unknown-encoding   `Content-Encoding: compress`
    huge:<n>           a stream of n MiB of content; non-streamed: a JSON body of n MiB (no length)
    huge-event         one SSE line of 8 MiB
    done-only          `data: [DONE]` and nothing else
    no-choices         chunks without `choices`, then `[DONE]`
    role-only          a role delta, then `[DONE]`
    open-after-done    the normal stream and `[DONE]`, then the body stays open 30 s

`python -m tests.faults.upstream --port N` serves it on its own (scripts/soak.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import socket
import struct
import zlib
from collections.abc import Callable
from typing import Any

import orjson

# The dev install has both (the `compression` extra); imported by name, as they carry no type hints.
brotli: Any = importlib.import_module("brotli")
zstandard: Any = importlib.import_module("zstandard")

# QwQ's shape: reasoning, `</think>`, the answer (an answer without the tag would be all reasoning,
# which the Anthropic surface hides unless asked).
ANSWER = "Thinking it over.</think>\n\nHello from the fault upstream, all in one piece."
FAULT = re.compile(rb"fault:([a-z0-9-]+)(?::(\d+))?")
MIB = 1024 * 1024


def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    data = {"id": "f", "object": "chat.completion.chunk", "model": "m", "choices": choices}
    return b"data: " + orjson.dumps(data) + b"\n\n"


def answer_events() -> list[bytes]:
    words = ANSWER.split(" ")
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    usage = {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}
    finish: dict[str, Any] = {"id": "f", "object": "chat.completion.chunk", "model": "m", "usage": usage}
    finish["choices"] = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    return [*events, b"data: " + orjson.dumps(finish) + b"\n\n", b"data: [DONE]\n\n"]


def answer_body() -> bytes:
    message = {"role": "assistant", "content": ANSWER}
    return orjson.dumps(
        {
            "id": "f",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
        }
    )


def compressor(name: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """(compress a piece and flush it, finish): every event leaves at once, as a streaming server's."""
    if name in ("gzip", "deflate"):
        z = zlib.compressobj(wbits=31 if name == "gzip" else 15)
        return (lambda data: z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)), z.flush
    if name == "br":
        b = brotli.Compressor()
        return (lambda data: b.process(data) + b.flush()), b.finish
    c = zstandard.ZstdCompressor().compressobj()
    return (lambda data: c.compress(data) + c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)), c.flush


class Exchange:
    """One request's answer on one connection."""

    def __init__(self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
        self.writer = writer
        self.reader = reader

    async def head(self, status: int, ctype: str, *extra: tuple[str, str], length: int | None = None) -> None:
        lines = [f"HTTP/1.1 {status} X", f"content-type: {ctype}"]
        lines += [f"{name}: {value}" for name, value in extra]
        lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def piece(self, data: bytes) -> None:
        if data:
            self.writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            await self.writer.drain()

    async def end(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def sized(self, status: int, ctype: str, body: bytes, *extra: tuple[str, str]) -> None:
        await self.head(status, ctype, *extra, length=len(body))
        self.writer.write(body)
        await self.writer.drain()

    def reset(self) -> None:
        sock = self.writer.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends a RST, not a FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def until_gone(self, seconds: float) -> None:
        """Hold the connection until the client leaves (or `seconds` pass)."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(4096):
                    pass
        except TimeoutError:
            pass


class FaultUpstream:
    """The server; `counts` says how often each fault was played, `held_open` how many answers are
    holding their body open after `[DONE]` right now (counted from their first byte), `dripping` how
    many endless streams run."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.held_open = 0
        self.dripping = 0
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                keep = await self._answer(Exchange(writer, reader), body)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if not writer.is_closing():
                writer.close()

    async def _answer(self, ex: Exchange, body: bytes) -> bool:
        """Play the fault; False when the connection must not serve another request."""
        found = FAULT.search(body)
        name = found.group(1).decode() if found else "ok"
        size = int(found.group(2)) if found and found.group(2) else 8
        self.counts[name] = self.counts.get(name, 0) + 1
        stream = b'"stream":true' in body.replace(b" ", b"")
        play = getattr(self, "_" + name.replace("-", "_"), None)
        if play is None:
            await ex.sized(400, "application/json", b'{"error": {"message": "unknown fault"}}')
            return True
        result = await play(ex, stream, size)
        return result is not False

    # --- the faults -------------------------------------------------------------------------------

    async def _ok(self, ex: Exchange, stream: bool, size: int) -> None:
        if not stream:
            await ex.sized(200, "application/json", answer_body())
            return
        await ex.head(200, "text/event-stream")
        for event in answer_events():
            await ex.piece(event)
        await ex.end()

    async def _reset_early(self, ex: Exchange, stream: bool, size: int) -> bool:
        ex.reset()
        return False

    async def _reset_late(self, ex: Exchange, stream: bool, size: int) -> bool:
        if stream:
            await ex.head(200, "text/event-stream")
            await ex.piece(answer_events()[1])
        else:
            await ex.head(200, "application/json", length=4000)
            ex.writer.write(b'{"choices": [')
            await ex.writer.drain()
        await asyncio.sleep(0.05)
        ex.reset()
        return False

    async def _slow_headers(self, ex: Exchange, stream: bool, size: int) -> bool:
        await ex.until_gone(30)
        return False

    async def _stall(self, ex: Exchange, stream: bool, size: int) -> bool:
        if stream:
            await ex.head(200, "text/event-stream")
        else:
            await ex.head(200, "application/json", length=len(answer_body()))
        await ex.until_gone(30)
        return False

    async def _429(self, ex: Exchange, stream: bool, size: int) -> None:
        error = b'{"error": {"message": "slow down"}}'
        await ex.sized(429, "application/json", error, ("retry-after", "7"))

    async def _500(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.sized(500, "application/json", b'{"error": {"message": "the model fell over"}}')

    async def _503_html(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.sized(503, "text/html", b"<html><body><h1>503 Service Unavailable</h1></body></html>")

    async def _shape(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.sized(200, "application/json", b'{"object": "chat.completion", "text": "no choices"}')

    async def _html(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.sized(200, "text/html", b"<html><body>Welcome to nginx!</body></html>")

    async def _truncated_json(self, ex: Exchange, stream: bool, size: int) -> None:
        body = answer_body()
        await ex.sized(200, "application/json", body[: len(body) // 2])

    async def _missing_done(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.head(200, "text/event-stream")
        for event in answer_events()[:3]:
            await ex.piece(event)
        await ex.end()

    async def _trickle(self, ex: Exchange, stream: bool, size: int) -> bool:
        await ex.head(200, "text/event-stream")
        while True:
            await ex.piece(b": still here\n\n")
            await asyncio.sleep(0.05)

    async def _drip(self, ex: Exchange, stream: bool, size: int) -> bool:
        await ex.head(200, "text/event-stream")
        self.dripping += 1
        try:
            await ex.piece(chunk({"content": "</think>\n\n"}))
            while True:
                await ex.piece(chunk({"content": "drip "}))
                await asyncio.sleep(0.05)
        finally:
            self.dripping -= 1

    async def _compressed(self, ex: Exchange, stream: bool, name: str) -> None:
        squeeze, finish = compressor(name)
        if not stream:
            body = squeeze(answer_body()) + finish()
            await ex.sized(200, "application/json", body, ("content-encoding", name))
            return
        await ex.head(200, "text/event-stream", ("content-encoding", name))
        for event in answer_events():
            await ex.piece(squeeze(event))
        await ex.piece(finish())
        await ex.end()

    async def _gzip(self, ex: Exchange, stream: bool, size: int) -> None:
        await self._compressed(ex, stream, "gzip")

    async def _deflate(self, ex: Exchange, stream: bool, size: int) -> None:
        await self._compressed(ex, stream, "deflate")

    async def _br(self, ex: Exchange, stream: bool, size: int) -> None:
        await self._compressed(ex, stream, "br")

    async def _zstd(self, ex: Exchange, stream: bool, size: int) -> None:
        await self._compressed(ex, stream, "zstd")

    async def _unknown_encoding(self, ex: Exchange, stream: bool, size: int) -> None:
        ctype = "text/event-stream" if stream else "application/json"
        await ex.sized(200, ctype, b"\x1f\x9d\x90compressed?", ("content-encoding", "compress"))

    async def _huge(self, ex: Exchange, stream: bool, size: int) -> bool:
        """`size` MiB of answer in 16 KiB pieces; the gateway may hang up (a cap): then stop."""
        text = "many words " * 1489  # ~16 KiB
        if not stream:
            await ex.head(200, "application/json")
            await ex.piece(
                b'{"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "</think>'
            )
            piece = text.encode()
            for _ in range(size * MIB // len(piece)):
                await ex.piece(piece)
            await ex.piece(b'"}}]}')
            await ex.end()
            return True
        await ex.head(200, "text/event-stream")
        await ex.piece(chunk({"content": "</think>\n\n"}))
        event = chunk({"content": text})
        for _ in range(size * MIB // len(text)):
            await ex.piece(event)
        for event in answer_events()[-2:]:
            await ex.piece(event)
        await ex.end()
        return True

    async def _huge_event(self, ex: Exchange, stream: bool, size: int) -> bool:
        await ex.head(200, "text/event-stream")
        await ex.piece(b'data: {"choices": [{"index": 0, "delta": {"content": "')
        for _ in range(8 * MIB // 65536):
            await ex.piece(b"x" * 65536)
        await ex.until_gone(30)
        return False

    async def _done_only(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.head(200, "text/event-stream")
        await ex.piece(b"data: [DONE]\n\n")
        await ex.end()

    async def _no_choices(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.head(200, "text/event-stream")
        await ex.piece(chunk(None) + chunk(None) + b"data: [DONE]\n\n")
        await ex.end()

    async def _role_only(self, ex: Exchange, stream: bool, size: int) -> None:
        await ex.head(200, "text/event-stream")
        await ex.piece(chunk({"role": "assistant"}) + b"data: [DONE]\n\n")
        await ex.end()

    async def _open_after_done(self, ex: Exchange, stream: bool, size: int) -> bool:
        await ex.head(200, "text/event-stream")
        # Counted before `[DONE]` is written: a client that has its answer must find it counted, and
        # this thread may not run again until well after the gateway has passed `[DONE]` on.
        self.held_open += 1
        try:
            for event in answer_events():
                await ex.piece(event)
            await ex.until_gone(30)
        finally:
            self.held_open -= 1
        return False


async def _serve(port: int) -> None:
    upstream = FaultUpstream()
    bound = await upstream.start(port)
    print(f"fault upstream on http://127.0.0.1:{bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fault upstream on its own.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
