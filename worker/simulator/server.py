"""The simulator as a real OpenAI-compatible HTTP server, for end-to-end tests and benchmarks.

    python -m worker.simulator.server --port 9100

serves `POST /v1/chat/completions` and, for raw prompts, `POST /v1/completions` (streamed or not) from
the same engine as the in-process adapter, with the same in-band fault modes, done for real on the
wire: an error status with an OpenAI error body (and `Retry-After` on 429), headers held back
(`slow-start`), a stream that stops (`stall`), a 200 whose body is not a completion (`malformed`), a
connection dropped mid-body (`disconnect`), plus `[sim:garbage]` (an HTML page with status 200) and
`[sim:no-usage]` (a stream without a usage chunk).

`GET /_sim/stats` tells what it saw: requests received, finished, and cancelled by the client (the
disconnect arrived while it was still answering); `POST /_sim/reset` zeroes the counters. Tests use
these to prove that the gateway stops upstream work when its own client goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from worker.core.ir import ChatRequest, Message, SamplingParams, ToolChoice, ToolSpec
from worker.simulator.engine import Generation, argument_pieces, find_fault, generate, pieces
from worker.simulator.plumbing import answer_lifespan

Scope = dict[str, Any]
Message_ = dict[str, Any]


@dataclass
class Stats:
    received: int = 0
    finished: int = 0
    cancelled: int = 0
    open: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "finished": self.finished,
            "cancelled": self.cancelled,
            "open": self.open,
            "bodies": self.bodies[-50:],
            "headers": self.headers[-50:],
        }


def _request_from_openai(body: dict[str, Any]) -> ChatRequest:
    messages = []
    for m in body.get("messages") or []:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        messages.append(Message(role=m.get("role", "user"), content=content or ""))
    tools = tuple(
        ToolSpec(
            t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters", {})
        )
        for t in body.get("tools") or []
    )
    raw_choice = body.get("tool_choice")
    choice = None
    if isinstance(raw_choice, str):
        choice = ToolChoice(raw_choice)  # type: ignore[arg-type]
    elif isinstance(raw_choice, dict):
        choice = ToolChoice("function", raw_choice.get("function", {}).get("name"))
    response_format = body.get("response_format") or {}
    schema = response_format.get("json_schema", {}).get("schema") if response_format else None
    return ChatRequest(
        model=str(body.get("model", "")),
        messages=tuple(messages),
        stream=bool(body.get("stream")),
        params=SamplingParams(max_tokens=body.get("max_tokens"), seed=body.get("seed")),
        tools=tools,
        tool_choice=choice,
        response_schema=schema,
        json_mode=response_format.get("type") == "json_object",
    )


class SimulatorServer:
    """A pure ASGI app; `token_delay` paces streamed tokens; `reasoning_field` sends reasoning in
    `reasoning_content` (as vLLM with a reasoning parser) instead of inline before `</think>`;
    `accept_images=False` refuses image parts with a 400, as vLLM does for a text-only model."""

    def __init__(
        self, token_delay: float = 0.0, reasoning_field: bool = False, accept_images: bool = True
    ) -> None:
        self.token_delay = token_delay
        self.reasoning_field = reasoning_field
        self.accept_images = accept_images
        self.stats = Stats()
        self._tried: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        path = scope["path"]
        if path == "/_sim/stats":
            await _json(send, 200, self.stats.as_dict())
        elif path == "/_sim/reset":
            self.stats = Stats()
            await _json(send, 200, {"ok": True})
        elif path.endswith("/chat/completions") and scope["method"] == "POST":
            await self._chat(scope, receive, send)
        elif path.endswith("/completions") and scope["method"] == "POST":
            await self._chat(scope, receive, send, raw=True)
        else:
            await _json(send, 404, {"error": {"message": "not found", "type": "not_found"}})

    async def _chat(self, scope: Scope, receive: Any, send: Any, raw: bool = False) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":  # the client left before its body arrived
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = orjson.loads(b"".join(chunks))
        stats = self.stats
        stats.received += 1
        stats.open += 1
        stats.bodies.append(body)
        stats.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch())
        answer = asyncio.create_task(self._answer(body, send, raw))
        try:
            done, _ = await asyncio.wait({watcher, answer}, return_when=asyncio.FIRST_COMPLETED)
            if answer in done:
                answer.result()
                stats.finished += 1
            else:
                answer.cancel()
                stats.cancelled += 1
        finally:
            watcher.cancel()
            stats.open -= 1

    def _first_try(self, body: dict[str, Any]) -> bool:
        """Whether this conversation is new to the server (for the `-once` faults)."""
        key = hashlib.blake2b(orjson.dumps([body.get("messages"), body.get("prompt")]), digest_size=16)
        seen = key.digest() in self._tried
        self._tried.add(key.digest())
        return not seen

    async def _answer(self, body: dict[str, Any], send: Any, raw: bool = False) -> None:
        if not self.accept_images and _has_image(body):
            error = {"message": f"{body.get('model')} is not a multimodal model", "type": "BadRequestError"}
            await _json(send, 400, {"object": "error", **error, "code": 400})
            return
        request = _request_from_completion(body) if raw else _request_from_openai(body)
        fault = find_fault(request)
        text = " ".join(m.text() for m in request.messages) + (request.prompt or "")
        if fault is not None and fault.kind == "error":
            headers = [(b"retry-after", b"1")] if fault.status == 429 else []
            error = {"message": f"simulated upstream error {fault.status}", "type": "server_error"}
            await _json(send, fault.status, {"error": error}, headers)
            return
        if fault is not None and fault.kind == "slow-start":
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.kind == "malformed":
            await _json(send, 200, {"object": "chat.completion", "result": "no choices here"})
            return
        if "[sim:garbage]" in text:
            await _raw(send, 200, b"<html><body>502 Bad Gateway</body></html>", b"text/html")
            return
        generation = generate(request, self._first_try(body))
        if raw:
            await _text_completion(send, request, generation, self.token_delay)
            return
        created = int(time.time())
        base = {"id": "chatcmpl-sim", "created": created, "model": request.model}
        usage: dict[str, Any] = {
            "prompt_tokens": generation.usage.prompt_tokens,
            "completion_tokens": generation.usage.completion_tokens,
            "total_tokens": generation.usage.total_tokens,
        }
        if self.reasoning_field:  # as providers with a reasoning parser report it (OpenAI's field)
            usage["completion_tokens_details"] = {"reasoning_tokens": generation.usage.reasoning_tokens}
        if not request.stream:
            if fault is not None and fault.kind == "stall":
                await asyncio.sleep(3600)
            output = pieces(generation, self.reasoning_field)
            message: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(t for k, t in output if k == "text") or None,
            }
            if self.reasoning_field:
                message["reasoning_content"] = "".join(t for k, t in output if k == "reasoning")
            if generation.tool_calls:
                message["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in generation.tool_calls
                ]
            elif message["content"] is None:
                message["content"] = ""
            choice = {"index": 0, "message": message, "finish_reason": generation.finish_reason}
            await _json(send, 200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        chunk = {**base, "object": "chat.completion.chunk"}

        async def event(payload: dict[str, Any]) -> None:
            data = b"data: " + orjson.dumps({**chunk, **payload}) + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": True})

        await event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        output = pieces(generation, self.reasoning_field)
        half = len(output) // 2
        for i, (kind, token) in enumerate(output):
            if fault is not None and i == half and fault.kind == "stall":
                await asyncio.sleep(3600)
            if fault is not None and i == half and fault.kind == "disconnect":
                raise ConnectionAbortedError("simulated disconnect")  # uvicorn drops the connection
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            field = "reasoning_content" if kind == "reasoning" else "content"
            await event({"choices": [{"index": 0, "delta": {field: token}, "finish_reason": None}]})
        for index, call in enumerate(generation.tool_calls):
            function = {"name": call.name, "arguments": ""}
            first = {"index": index, "id": call.id, "type": "function", "function": function}
            await event({"choices": [{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}]})
            for piece in argument_pieces(call.arguments):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                await event({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        finish = {"index": 0, "delta": {}, "finish_reason": generation.finish_reason}
        await event({"choices": [finish]})
        if "[sim:no-usage]" not in text:
            await event({"choices": [], "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def _has_image(body: dict[str, Any]) -> bool:
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(p, dict) and "image_url" in p for p in content):
            return True
    return False


def _request_from_completion(body: dict[str, Any]) -> ChatRequest:
    return ChatRequest(
        model=str(body.get("model", "")),
        prompt=str(body.get("prompt", "")),
        raw=True,
        stream=bool(body.get("stream")),
        params=SamplingParams(max_tokens=body.get("max_tokens"), seed=body.get("seed")),
    )


async def _text_completion(send: Any, request: ChatRequest, generation: Generation, delay: float) -> None:
    """`POST /v1/completions`: the raw text (no chat template, so no reasoning field either)."""
    usage = generation.usage
    base = {
        "id": "cmpl-sim",
        "object": "text_completion",
        "created": int(time.time()),
        "model": request.model,
    }
    usage_body = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if not request.stream:
        choice = {"index": 0, "text": "".join(generation.tokens), "finish_reason": generation.finish_reason}
        await _json(send, 200, {**base, "choices": [choice], "usage": usage_body})
        return
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "text": token, "finish_reason": None}]} for token in generation.tokens
    ]
    events.append({"choices": [{"index": 0, "text": "", "finish_reason": generation.finish_reason}]})
    events.append({"choices": [], "usage": usage_body})
    for payload in events:
        if delay:
            await asyncio.sleep(delay)
        data = b"data: " + orjson.dumps({**base, **payload}) + b"\n\n"
        await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _raw(send: Any, status: int, body: bytes, ctype: bytes, extra: list[Any] | None = None) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: Any, extra: list[Any] | None = None) -> None:
    await _raw(send, status, orjson.dumps(data), b"application/json", extra)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="OpenAI-compatible QwQ-32B simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--reasoning-field", action="store_true", help="reasoning in reasoning_content")
    parser.add_argument("--no-images", action="store_true", help="refuse image parts (text-only model)")
    args = parser.parse_args()
    app = SimulatorServer(args.token_delay, args.reasoning_field, accept_images=not args.no_images)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
