"""The fake OpenAI upstream of the benchmark: fixed bodies served by nginx, plus a stream holder.

nginx answers every POST under
- `/json/v1/chat/completions` with a fixed ~600-byte chat completion,
- `/sse64/v1/...` and `/sse512/v1/...` with a fixed stream of 64 or 512 content chunks (an eighth
  of them reasoning, then `</think>`, then the answer), then a finish chunk, a usage chunk and `[DONE]`.
`hold_server` (run as `python upstream.py hold PORT`, reached through nginx under `/hold/`) is for
the open-streams memory cell: it sends the headers and one chunk, then keeps the stream open until
the client leaves (or 120 s pass).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

MODEL = "Qwen/QwQ-32B"


# As QwQ answers: its reasoning (the chat template opened the `<think>` tag), `</think>`, then the answer.
# Every surface then has an answer to show, whatever it does with the reasoning.
REASONING = "The user asks for the capital of France, in one word: that is Paris."
THINK_CLOSE = "</think>\n\n"


def completion_body() -> bytes:
    answer = REASONING + THINK_CLOSE + "The capital of France is Paris. " * 7
    data = {
        "id": "chatcmpl-bench0000000000000000",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.strip()},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 64, "total_tokens": 85},
    }
    return json.dumps(data, separators=(",", ":")).encode()


def _chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> str:
    data: dict[str, object] = {
        "id": "chatcmpl-bench0000000000000000",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        data["usage"] = usage
    return "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"


def stream_body(events: int) -> bytes:
    parts = [_chunk({"role": "assistant", "content": "tok "})]
    # An eighth of the stream is reasoning, the rest is the answer.
    parts += [_chunk({"content": THINK_CLOSE if i == events // 8 else f"tok{i} "}) for i in range(1, events)]
    parts.append(_chunk({}, finish="stop"))
    usage = {"prompt_tokens": 21, "completion_tokens": events, "total_tokens": 21 + events}
    parts.append(_chunk({}, usage=usage))
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


def _nginx_string(body: bytes) -> str:
    text = body.decode().replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{text}'"


def write_bodies(workdir: str) -> None:
    """The stream bodies are files (nginx limits a `return` string's length); see `nginx_conf`."""
    for n in (64, 512):
        path = Path(workdir) / "www" / f"sse{n}" / "v1" / "chat" / "completions"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(stream_body(n))


def nginx_conf(workdir: str, port: int, hold_port: int) -> str:
    # nginx's static handler refuses POST with 405; `error_page 405 =200 $uri` serves the file anyway.
    sse = "".join(
        f"""
    location /sse{n}/ {{
      root {workdir}/www;
      default_type text/event-stream;
      error_page 405 =200 $uri;
    }}"""
        for n in (64, 512)
    )
    write_bodies(workdir)
    return f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path {workdir}/body;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location /json/ {{
      default_type application/json;
      return 200 {_nginx_string(completion_body())};
    }}
    location /hold/ {{
      proxy_pass http://127.0.0.1:{hold_port};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }}{sse}
  }}
}}
"""


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        first = _chunk({"role": "assistant", "content": "tok "}).encode()
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the client leaves
            try:
                if not await asyncio.wait_for(reader.read(1024), timeout=1.0):
                    break
            except TimeoutError:
                continue
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def hold_server(port: int) -> None:
    server = await asyncio.start_server(_hold, "127.0.0.1", port, backlog=4096)
    async with server:
        await asyncio.sleep(900)  # the runner kills it long before; never outlives a run


if __name__ == "__main__" and sys.argv[1:2] == ["hold"]:
    asyncio.run(hold_server(int(sys.argv[2])))
