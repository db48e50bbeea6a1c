"""The format of the gateway's log lines, with the time stamp formatted once per second.

Why: `logging.Formatter.formatTime` calls `localtime` and `strftime` for every record, 1.9 µs of the
~7 µs an access-log line costs (every request writes one at `LOG_LEVEL=info`). The text up to the
second changes once a second; only the milliseconds are formatted per line. The output is
`logging.Formatter`'s (`tests/web/test_logformat.py`), except that control characters are escaped.

Control characters: a path such as `/x%0a2026-01-01 ... POST /admin 200` decodes to a line break, and
written raw it would forge a second log line. Every field a client controls is escaped where it is
logged (`escape`), and the formatter escapes what is left in a line as a last guard, so one record
is always exactly one line.

Request ids: every line written while a request is being served (a router warning, an upstream
failure, a sink error) ends with ` id=<request id>`, the id the client got in `X-Request-Id`, so a
text log can be searched for one request as a JSON log can. The id comes from the context variable
the access-log middleware sets (`worker.observe.context.REQUEST_ID`); lines outside a request (start-up,
shut-down) get nothing. The access line already ends with its id and is left as it is.
"""

from __future__ import annotations

import logging
import time

from worker.observe.context import LOG_RECORD_ATTRIBUTE, REQUEST_ID

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators, which some log viewers
# also break lines at.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
# A field also gets its backslashes doubled, so that `\x0a` in a field always means the client sent
# a line break, never that it typed a backslash.
_FIELD_ESCAPES = {**_CONTROLS, ord("\\"): "\\\\"}


def escape(field: str) -> str:
    """A client-controlled `field` ready for a log line: control characters and backslashes escaped.
    Clean text (the common case) is returned as it is, after one scan in C."""
    if field.isprintable() and "\\" not in field:
        return field
    return field.translate(_FIELD_ESCAPES)


def one_line(text: str) -> str:
    """`text` with its control characters escaped (backslashes left alone: fields are already escaped)."""
    return text if text.isprintable() else text.translate(_CONTROLS)


class LineFormatter(logging.Formatter):
    def __init__(self, fmt: str = LINE_FORMAT) -> None:
        super().__init__(fmt)
        self._second = -1
        self._second_text = ""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = one_line(super().formatMessage(record))
        request_id = REQUEST_ID.get()
        if request_id and not hasattr(record, LOG_RECORD_ATTRIBUTE):  # the access line has its own
            return f"{line} id={request_id}"  # the id is a sane token (`access_log`): nothing to escape
        return line

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        msec_format = self.default_msec_format
        return msec_format % (self._second_text, record.msecs) if msec_format else self._second_text
