"""The fault suite's parts: the fault upstream on its own loop, a gateway as a real process (so its
memory can be read from /proc), the four client surfaces, and what a client makes of an answer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.faults.upstream import FaultUpstream
from tests.processes import clean_env
from tests.servers import free_port

KEY = "fault-suite-key"
SURFACES = ["workers", "cloudflare", "openai", "anthropic"]


class UpstreamThread:
    """The fault upstream on its own event loop in a thread of the test process."""

    def __init__(self) -> None:
        self.upstream = FaultUpstream()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.port = self.loop.run_until_complete(self.upstream.start())
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> UpstreamThread:
        self._thread.start()
        assert self._ready.wait(10), "the fault upstream did not start"
        return self

    def stop(self) -> None:
        async def close() -> None:
            server = self.upstream.server
            assert server is not None
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def model_table(path: Path, upstream_port: int) -> Path:
    """`qwq-32b` on the fault upstream; `qwq-refused` on a port nobody listens on."""
    path.write_text(
        "\n".join(
            [
                "[models.qwq-32b]",
                'cloudflare_id = "@cf/qwen/qwq-32b"',
                "[[models.qwq-32b.targets]]",
                'adapter = "openai"',
                f'base_url = "http://127.0.0.1:{upstream_port}/v1"',
                'model = "Qwen/QwQ-32B"',
                "[models.qwq-refused]",
                'cloudflare_id = "@cf/qwen/qwq-refused"',
                "[[models.qwq-refused.targets]]",
                'adapter = "openai"',
                f'base_url = "http://127.0.0.1:{free_port()}/v1"',
                'model = "Qwen/QwQ-32B"',
                "",
            ]
        )
    )
    return path


# Short timeouts, no retries and no breakers: each request meets its fault once, whatever ran before.
FAULT_SETTINGS = {
    "RETRY_ATTEMPTS": "0",
    "BREAKER_FAILURES": "0",
    "UPSTREAM_CONNECT_TIMEOUT": "2",
    "UPSTREAM_FIRST_BYTE_TIMEOUT": "1.5",
    "UPSTREAM_IDLE_TIMEOUT": "1.5",
    "UPSTREAM_MAX_BODY_BYTES": str(1024 * 1024),
    "LOG_LEVEL": "warning",
}


class GatewayProcess:
    """`python -m worker` with the fault settings, on its own port."""

    def __init__(self, table: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = clean_env(
            API_KEYS=KEY, MODELS_FILE=str(table), PORT=str(self.port), **{**FAULT_SETTINGS, **settings}
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"the gateway exited: {self.process.communicate()[0]}")
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)

    def memory(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (the peak so far), in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}

    def stop(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return out


def request(
    surface: str, text: str, stream: bool, model: str = "qwq-32b"
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) of one chat request on `surface`."""
    messages = [{"role": "user", "content": text}]
    auth = {"authorization": f"Bearer {KEY}"}
    if surface == "workers":
        return f"/{model}", {"messages": messages, "stream": stream}, auth
    if surface == "cloudflare":
        return (
            f"/client/v4/accounts/acc/ai/run/@cf/qwen/{model}",
            {"messages": messages, "stream": stream},
            auth,
        )
    if surface == "openai":
        return "/v1/chat/completions", {"model": model, "messages": messages, "stream": stream}, auth
    body = {"model": model, "max_tokens": 256, "messages": messages, "stream": stream}
    return "/v1/messages", body, {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


@dataclass
class Outcome:
    """What a client saw: status, the answer's text, error reports, and how a stream ended."""

    status: int
    headers: dict[str, str]
    text: str = ""
    errors: list[str] = field(default_factory=list)  # error messages (body or events)
    ends: int = 0  # the surface's clean end marks seen (`[DONE]`, `message_stop`)
    after_end: int = 0  # events after a clean end or an error (a double answer)
    raw: str = ""


def _sse(raw: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE body."""
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def _error_message(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message", "")) or str(error)
    if isinstance(error, str):
        return error
    if data.get("success") is False and data.get("errors"):
        return str(data["errors"][0].get("message", ""))
    if data.get("type") == "error":
        return str(data.get("error", ""))
    return None


def _text_of(surface: str, data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    if surface in ("workers", "cloudflare"):
        result = data.get("result", data)
        return str(result.get("response") or "") if isinstance(result, dict) else ""
    if surface == "openai":
        choices = data.get("choices") or [{}]
        part = choices[0].get("delta") or choices[0].get("message") or {}
        return str(part.get("content") or "") + str(part.get("reasoning_content") or "")
    if data.get("type") == "content_block_delta":
        return str(data["delta"].get("text") or data["delta"].get("thinking") or "")
    if data.get("type") == "message":
        return "".join(str(b.get("text") or b.get("thinking") or "") for b in data.get("content", []))
    return ""


def outcome(surface: str, response: httpx.Response) -> Outcome:
    raw = response.text
    seen = Outcome(response.status_code, dict(response.headers), raw=raw[-2000:])
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        data = orjson.loads(raw)
        message = _error_message(data)
        if message is not None:
            seen.errors.append(message)
        else:
            seen.text = _text_of(surface, data)
        return seen
    over = False
    for name, data in _sse(raw):
        if over:
            seen.after_end += 1
        if data == "[DONE]":
            seen.ends += 1
            over = True
            continue
        decoded = orjson.loads(data)
        message = _error_message(decoded) if name in ("error", "message") else None
        if message is not None:
            seen.errors.append(message)
            over = True
            continue
        if isinstance(decoded, dict) and decoded.get("type") == "message_stop":
            seen.ends += 1
            over = True
        seen.text += _text_of(surface, decoded)
    return seen


def ask(
    gateway: GatewayProcess,
    surface: str,
    text: str,
    stream: bool,
    model: str = "qwq-32b",
    timeout: float = 30,
) -> Outcome:
    path, body, headers = request(surface, text, stream, model)
    response = httpx.post(f"{gateway.url}{path}", json=body, headers=headers, timeout=timeout)
    return outcome(surface, response)
