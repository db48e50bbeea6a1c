"""What one request did, for everything that accounts for requests after they end.

A `RequestRecord` is made by the access-log middleware when a request arrives and filled in as the
request runs: the surface endpoint names the surface, model and key; the router names the target that
answered, counts the attempts and the text the upstream generated; the endpoint keeps the usage the
client was sent. When the answer has ended (or the client has left) the middleware stamps the status
and duration and hands the record to each sink: usage accounting, metrics, structured logs.

Sinks are plain functions called on the event loop after the answer is complete: a sink must not block
or await (a sink that writes to a store queues the record and writes it later, in batches). The record
holds figures and names only, never a key or a header value; the parsed request it points to is for
estimates in memory, never written anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.core.ir import ChatRequest, Usage


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started_at: float = field(default_factory=time.time)
    """Wall-clock time the request arrived (seconds since the epoch)."""
    started: float = field(default_factory=time.perf_counter)
    """The same moment on the monotonic clock, for durations."""
    surface: str = ""
    """`workers`, `cloudflare`, `openai`, `anthropic`, ...; empty for routes that serve no model."""
    model: str = ""
    """The model slug the request named (after the model table resolved it)."""
    key_id: str = ""
    """The public id of the client's key (never the key itself); empty when no key was needed."""
    target: str = ""
    """The target that answered, as `slug#n`; empty when no upstream was reached."""
    attempts: int = 0
    """Upstream attempts made for this request (retries and failover included)."""
    streamed: bool = False
    status: int = 0
    error_code: str = ""
    usage: Usage | None = None
    """The usage the client was sent (or would have been: set as the usage event passes)."""
    generated_chars: int = 0
    """Characters of text, reasoning and tool arguments the upstream generated: what a client that left
    mid-answer is charged for when no usage ever arrived."""
    request: ChatRequest | None = None
    """The parsed request, kept in memory only: to estimate the prompt of a client that left before any
    usage arrived (never stored or logged)."""
    first_event_at: float | None = None
    """Monotonic time of the answer's first event (time to first token = this minus `started`)."""
    duration: float = 0.0
    """Seconds from arrival to the end of the answer."""
    upstream_seconds: float = 0.0
    """Seconds spent in upstream attempts (the gateway's own added latency is `duration` less this)."""
    finish_reason: str = ""
    """Why the answer ended (`stop`, `length`, `tool_calls`, ...) as the client was told; empty if untold."""
    client: str = ""
    """The client's address: the connection's peer or, behind a reverse proxy trusted by
    `FORWARDED_ALLOW_IPS`, the address that proxy forwarded; empty when the server names none."""
    admission: object | None = None
    """The rate-limit reservation of an admitted request (`worker.limits.gate.Ticket`), settled when the
    answer has ended; None for a key without limits."""

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_event_at is None else self.first_event_at - self.started


RecordSink = Callable[[RequestRecord], None]
"""Called once per finished request, on the event loop: must return at once (queue, never wait)."""
