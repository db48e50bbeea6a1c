"""Fakes of what the Cloudflare Python Workers runtime hands the gateway, in the shapes Pyodide gives them:
the Workers AI binding (`env.AI`) with its JavaScript answers, and the Worker's `env`.

A whole answer is a JavaScript object (`.to_py()` makes it a dict); a streamed one is a ReadableStream
(`getReader()`, `await read()` -> `{done, value: Uint8Array}`, `await cancel()`); a failure is a thrown
JavaScript error (a `JsException` in Python) whose message starts with Cloudflare's error code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class JsObject:
    def __init__(self, data: Any) -> None:
        self._data = data

    def to_py(self) -> Any:
        return self._data


class Uint8Array:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def to_bytes(self) -> bytes:
        return self._data


@dataclass
class ReadResult:
    done: bool
    value: Uint8Array | None = None


@dataclass
class ReadableStream:
    chunks: list[bytes]
    read_count: int = 0
    cancelled: bool = False

    def getReader(self) -> ReadableStream:  # the JavaScript name
        return self

    async def read(self) -> ReadResult:
        if self.cancelled or self.read_count >= len(self.chunks):
            return ReadResult(True)
        self.read_count += 1
        return ReadResult(False, Uint8Array(self.chunks[self.read_count - 1]))

    async def cancel(self) -> None:
        self.cancelled = True


class JsException(Exception):
    """What Pyodide raises for a thrown JavaScript error: its text is `Name: message`."""


def sse(*events: dict[str, Any]) -> list[bytes]:
    """A Workers AI stream, one network chunk per event, ending in `[DONE]`."""
    import orjson

    return [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


@dataclass
class FakeAI:
    """`env.AI`: answers each `run` with the next of `answers` (a dict: a whole answer; a list of bytes:
    a stream; an exception: thrown) and records what it was asked."""

    answers: list[Any]
    calls: list[tuple[str, Any]] = field(default_factory=list)
    streams: list[ReadableStream] = field(default_factory=list)

    async def run(self, model: str, inputs: Any) -> Any:
        self.calls.append((model, inputs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, list):
            stream = ReadableStream(list(answer))
            self.streams.append(stream)
            return stream
        return JsObject(answer)


class Env:
    """The Worker's `env`: `[vars]` (strings, and numbers as JavaScript numbers), secrets, bindings."""

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
