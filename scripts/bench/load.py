"""The load the benchmark applies: `wrk` for request rates and latencies, a raw-socket client for streams.

Every loop here is bounded by a duration or a count, and every connection goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

from procs import Server

LUA = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,"p50":%d,"p99":%d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    end: bytes = b"[DONE]"
    """What the last event of a streamed answer holds, in the client's dialect."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk(port: int, request: Request, connections: int, seconds: float, core: int = 1) -> WrkResult:
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in request.headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(body=request.body.decode(), headers=headers))
    argv = [
        "taskset",
        "-c",
        str(core),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
    ]
    argv += ["-s", script.name, f"http://127.0.0.1:{port}{request.path}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out[-400:]}")
    data = json.loads(line[8:])
    errors = data["errors"] + data["status_errors"]
    return WrkResult(
        data["requests"], data["duration_us"] / 1e6, errors, data["p50"] / 1e3, data["p99"] / 1e3
    )


def wrk_cpu(
    server: Server | None, port: int, request: Request, connections: int, seconds: float
) -> tuple[WrkResult, float]:
    """A `wrk` cell and the CPU seconds `server`'s process tree spent during it (0 without a server)."""
    before = server.cpu() if server else 0.0
    result = wrk(port, request, connections, seconds)
    return result, (server.cpu() - before if server else 0.0)


def _http(port: int, request: Request, close: bool = True) -> bytes:
    head = [
        f"POST {request.path} HTTP/1.1",
        f"host: 127.0.0.1:{port}",
        f"content-length: {len(request.body)}",
    ]
    head += [f"{k}: {v}" for k, v in request.headers.items()]
    if close:
        head.append("connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + request.body


async def _one_stream(port: int, request: Request) -> tuple[float, bool]:
    """Seconds from sending the request to the first `data:` byte; whether the stream ended in [DONE]."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        started = time.perf_counter()
        writer.write(_http(port, request))
        await writer.drain()
        seen = b""
        first = 0.0
        async with asyncio.timeout(10):
            while chunk := await reader.read(65536):
                if not first:
                    seen += chunk
                    if b"data:" in seen:
                        first = time.perf_counter() - started
                seen = seen[-64:] + (chunk if first else b"")
        return first, request.end in seen
    finally:
        writer.close()


def time_to_first_event(port: int, request: Request, count: int) -> tuple[float, float, int]:
    """Median and p99 time to first event in ms over `count` sequential streams; failed streams."""

    async def run() -> tuple[list[float], int]:
        times, failed = [], 0
        for _ in range(count):
            try:
                first, done = await _one_stream(port, request)
            except (OSError, TimeoutError):
                first, done = 0.0, False
            if first and done:
                times.append(first * 1000)
            else:
                failed += 1
        return times, failed

    times, failed = asyncio.run(run())
    if not times:
        return 0.0, 0.0, failed
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1 if len(times) > 1 else 0], failed


def hold_streams(
    port: int, request: Request, count: int, measure: object, hold_timeout: float = 30
) -> tuple[int, object]:
    """Open `count` streams that stay open; once all have their first event, call `measure()`, then close.

    Returns how many streams were open at the moment of measuring, and what `measure` returned.
    """

    async def run() -> tuple[int, object]:
        conns: list[asyncio.StreamWriter] = []
        opened = 0

        async def open_one() -> None:
            nonlocal opened
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conns.append(writer)
            writer.write(_http(port, request, close=False))
            seen = b""
            while b"data:" not in seen:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                seen += chunk
            opened += 1

        tasks = [asyncio.create_task(open_one()) for _ in range(count)]
        await asyncio.wait(tasks, timeout=hold_timeout)
        await asyncio.sleep(0.5)
        result = measure()  # type: ignore[operator]
        for task in tasks:
            task.cancel()
        for writer in conns:
            writer.close()
        await asyncio.sleep(1.0)
        return opened, result

    return asyncio.run(run())
