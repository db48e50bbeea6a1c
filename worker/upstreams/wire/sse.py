"""An incremental Server-Sent Events decoder for upstream streams.

It follows the WHATWG event-stream rules: `\n`, `\r\n` and `\r` line ends (a `\r\n` split across two
reads counts once), `data:` with or without the space, multi-line data joined with `\n`, comment lines,
`event:` lines, and UTF-8 characters or lines split across reads at any byte. Unlike the browser, it
dispatches an event still pending when the stream ends without a blank line, because several upstreams
end their last event that way.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple


class ServerSentEvent(NamedTuple):
    """A tuple rather than a frozen dataclass: one is made per upstream chunk, and a frozen
    dataclass's `__init__` sets each field through `object.__setattr__`."""

    data: str
    event: str = "message"


# The largest event (its unfinished line plus its data lines so far) a stream may hold in memory. A
# chunk is a few hundred bytes; without a cap, an upstream that never ends a line would grow one
# stream's buffer without bound.
MAX_EVENT_CHARS = 4 * 1024 * 1024


class SSETooLarge(ValueError):
    """An event grew past `MAX_EVENT_CHARS` without being dispatched."""


class SSEDecoder:
    """`_parts` holds the reads of a line still without its end: appending each read to one string
    would copy the whole line every time, quadratic in a long line (4 MiB in 4 KiB reads copied ~2 GB
    and took seconds); the parts are joined once, when the line ends."""

    __slots__ = (
        "_buffer",
        "_data",
        "_event",
        "_held",
        "_max",
        "_parts",
        "_size",
        "_skip_lf",
        "_utf8",
        "comments",
    )

    def __init__(self, max_event_chars: int = MAX_EVENT_CHARS) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._parts: list[str] = []
        self._held = 0
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._skip_lf = False
        self._max = max_event_chars
        self.comments = 0

    def _check(self) -> None:
        if self._size + len(self._buffer) + self._held > self._max:
            raise SSETooLarge(f"an upstream event exceeded {self._max} characters")

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk)
        if self._skip_lf and text:
            if text[0] == "\n":
                text = text[1:]
            self._skip_lf = False
        if not text:
            return []
        if "\n" not in text and "\r" not in text:  # the line goes on: hold the read, copy nothing
            self._parts.append(text)
            self._held += len(text)
            self._check()
            return []
        if self._parts:
            self._buffer += "".join(self._parts)
            self._parts.clear()
            self._held = 0
        buffer = self._buffer + text if self._buffer else text
        events: list[ServerSentEvent] = []
        if "\r" not in buffer:
            lines = buffer.split("\n")
            self._buffer = lines.pop()
            data = self._data
            for line in lines:
                # The two lines of nearly every event, `data: ...` and the blank line, are handled
                # here; anything else goes through `_line` (two method calls less per event).
                if line[:5] == "data:":
                    value = line[6:] if line[5:6] == " " else line[5:]
                    data.append(value)
                    self._size += len(value) + 1
                elif not line and data and not self._event:
                    events.append(ServerSentEvent("\n".join(data) if len(data) > 1 else data[0]))
                    data.clear()
                    self._size = 0
                else:
                    self._line(line, events)
                    data = self._data
            self._check()
            return events
        start, end = 0, len(buffer)
        while start < end:
            cr, lf = buffer.find("\r", start), buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                self._line(buffer[start:lf], events)
                start = lf + 1
                continue
            self._line(buffer[start:cr], events)
            if cr + 1 < end:
                start = cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            else:  # a lone `\r` at the end: a `\n` in the next read belongs to it
                self._skip_lf = True
                start = end
        self._buffer = buffer[start:]
        self._check()
        return events

    def close(self) -> list[ServerSentEvent]:
        """Flush at end of stream: a last line or event that was never terminated is dispatched."""
        events: list[ServerSentEvent] = []
        tail = self._utf8.decode(b"", final=True)
        if self._parts:
            self._buffer += "".join(self._parts)
            self._parts.clear()
            self._held = 0
        if self._buffer or tail:
            self._line(self._buffer + tail, events)
            self._buffer = ""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                events.append(ServerSentEvent("\n".join(self._data), self._event or "message"))
            self._data = []
            self._size = 0
            self._event = ""
            return
        if line[0] == ":":
            self.comments += 1
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
        elif name == "event":
            self._event = value
