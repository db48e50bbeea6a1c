"""The log line formatter: `logging.Formatter`'s output exactly, with the time text made once a second."""

from __future__ import annotations

import logging

from worker.observe.context import LOG_RECORD_ATTRIBUTE, REQUEST_ID
from worker.web.logformat import LINE_FORMAT, LineFormatter


def record_at(created: float, message: str = "POST /qwq-32b 200 0.4ms id=%s") -> logging.LogRecord:
    record = logging.LogRecord("worker.access", logging.INFO, __file__, 0, message, ("abc",), None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


def test_the_lines_are_the_standard_formatters_across_seconds() -> None:
    ours, standard = LineFormatter(), logging.Formatter(LINE_FORMAT)
    start = 1_790_000_000.0
    for offset in (0.0, 0.001, 0.999, 1.0, 1.5, 59.999, 60.0, 3600.25, 0.5):  # back in time too
        record = record_at(start + offset)
        assert ours.format(record) == standard.format(record)


def test_an_explicit_date_format_is_honoured() -> None:
    record = record_at(1_790_000_000.25)
    assert LineFormatter().formatTime(record, "%Y") == logging.Formatter().formatTime(record, "%Y")


def test_a_line_written_during_a_request_ends_with_its_id() -> None:
    warning = logging.LogRecord(
        "worker.routing", logging.WARNING, __file__, 0, "upstream %s failed", ("t",), None
    )
    token = REQUEST_ID.set("req-42")
    try:
        line = LineFormatter().format(warning)
        access = record_at(1_790_000_000.0)
        setattr(access, LOG_RECORD_ATTRIBUTE, object())  # the access line names its id itself
        access_line = LineFormatter().format(access)
    finally:
        REQUEST_ID.reset(token)
    assert line.endswith("WARNING worker.routing: upstream t failed id=req-42")
    assert access_line.endswith("id=abc") and "req-42" not in access_line
    assert not LineFormatter().format(warning).endswith("id=req-42")  # outside a request: no id
