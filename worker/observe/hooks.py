"""Module-level calls that count into the process's metrics, for code with no handle on the app.

The usage queue, the limits and the SSE responder call these; they do nothing while no metrics are
installed (metrics off, or a test without an app), and cost one global read then. This module imports
nothing heavy, so a layer that only reports (`worker.web.streaming`) never loads prometheus-client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.observe.metrics import Metrics

_current: Metrics | None = None


def install(metrics: Metrics | None) -> None:
    """Make `metrics` the process's metrics for the calls below (None: they do nothing). With several
    apps in one process (tests), the last one built counts."""
    global _current
    _current = metrics


def usage_dropped(count: int = 1) -> None:
    """The usage queue was full and dropped `count` records."""
    if _current is not None:
        _current.dropped.inc(count)


def limit_rejected(limit: str) -> None:
    """A request was refused by a rate limit: `requests`, `tokens` or `concurrency`."""
    if _current is not None:
        _current.limited.labels(limit).inc()


def budget_rejected() -> None:
    """A request was refused because a budget was spent."""
    if _current is not None:
        _current.budget.inc()


def open_stream() -> None:
    """A streamed answer starts (`worker.web.streaming`)."""
    if _current is not None:
        _current.open_streams.inc()


def close_stream() -> None:
    """A streamed answer has ended, however it ended."""
    if _current is not None:
        _current.open_streams.dec()
