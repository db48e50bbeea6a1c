"""Tool calls written as text (`tool_mode = "prompt"`), parsed back out of the answer stream.

The model writes each call in Qwen's own form (the one QwQ's chat template teaches it):

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

`parse_tagged_calls` is a stateful transform over the answer's `TextDelta`s: text outside the tags
passes through at once, except a tail that could be the start of `<tool_call>`, which is held back
until the next chunk decides it; a call's text is held until its closing tag and then becomes
`ToolCallDelta`s (first the id and name, then the arguments), so the client never sees a partial tag
or a half-written call whatever the chunking. Reasoning is not looked at (the model may think about
tags). A call whose JSON is broken is an `UpstreamBadResponse`; the finish reason becomes `tool_calls`
when at least one call was parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import orjson

from worker.answer.reasoning import held_prefix
from worker.core.closing import close
from worker.core.errors import UpstreamBadResponse
from worker.core.ir import Event, Finish, TextDelta, ToolCallDelta, new_tool_call_id

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
MAX_CALL_CHARS = 256 * 1024  # one call's text; beyond this the model is not writing a call


def decode_call(text: str) -> tuple[str, str]:
    """(name, arguments as JSON text) of one call's body, or `UpstreamBadResponse`."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse("The model wrote a tool call that is not valid JSON") from exc
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise UpstreamBadResponse("The model wrote a tool call without a function name")
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadResponse(
                f"The model's call to '{name}' has arguments that are not valid JSON"
            ) from exc
    if not isinstance(arguments, dict):
        raise UpstreamBadResponse(f"The model's call to '{name}' has arguments that are not an object")
    return name, orjson.dumps(arguments).decode()


class TaggedCallParser:
    """Feed answer text in, get text and tool-call events out (see the module docstring)."""

    __slots__ = ("_buffer", "_in_call", "_trim", "calls")

    def __init__(self) -> None:
        self._buffer = ""
        self._in_call = False
        self._trim = False  # white space right after a call is layout, not answer
        self.calls = 0

    def feed(self, text: str) -> Iterator[Event]:
        buffer = self._buffer + text
        while buffer:
            if self._in_call:
                end = buffer.find(CLOSE)
                if end < 0:
                    if len(buffer) > MAX_CALL_CHARS:
                        raise UpstreamBadResponse("The model wrote a tool call that never ends")
                    break
                yield from self._call(buffer[:end])
                buffer = buffer[end + len(CLOSE) :]
                self._in_call = False
                self._trim = True
                continue
            if self._trim:
                buffer = buffer.lstrip()
                if not buffer:
                    break
                self._trim = False
            start = buffer.find(OPEN)
            if start >= 0:
                if start:
                    yield TextDelta(buffer[:start])
                buffer = buffer[start + len(OPEN) :]
                self._in_call = True
                continue
            keep = held_prefix(buffer, OPEN)
            if len(buffer) > keep:
                yield TextDelta(buffer[: len(buffer) - keep])
            buffer = buffer[len(buffer) - keep :]
            break
        self._buffer = buffer

    def close(self) -> Iterator[Event]:
        """At the end of the answer: a held tag prefix was text after all; an unclosed call is
        accepted when its JSON is whole (models sometimes stop right before `</tool_call>`)."""
        buffer, self._buffer = self._buffer, ""
        if self._in_call:
            self._in_call = False
            yield from self._call(buffer)
        elif buffer and not self._trim:
            yield TextDelta(buffer)

    def _call(self, body: str) -> Iterator[Event]:
        name, arguments = decode_call(body.strip())
        index = self.calls
        self.calls += 1
        yield ToolCallDelta(index, "", new_tool_call_id(), name)
        yield ToolCallDelta(index, arguments)


async def parse_tagged_calls(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    parser = TaggedCallParser()
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                for out in parser.feed(event.text):
                    yield out
                continue
            if isinstance(event, Finish):
                for out in parser.close():
                    yield out
                if parser.calls and event.reason == "stop":
                    event = Finish("tool_calls")
            yield event
    finally:
        await close(events)
