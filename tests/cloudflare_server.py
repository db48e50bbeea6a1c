"""A fake Cloudflare Workers AI REST API: a real ASGI app for a real socket, speaking its envelope.

    POST /client/v4/accounts/{account_id}/ai/run/{model}

answers `{"result": {...}, "success": true, "errors": [], "messages": []}`, or the failure envelope
with Cloudflare's codes (10000 bad token, 5007 unknown model, 5006 bad input, 3040 capacity, 3007
timeout, 3006 too large), or an SSE stream of `{"response": delta, "p": padding}` events, a usage
event and `data: [DONE]`. With `tools` it calls the first tool (`result.tool_calls: [{name,
arguments: object}]`). Markers in the last message choose a fault: `[cf:capacity]`, `[cf:timeout]`,
`[cf:too-large]`, `[cf:bad-input]`, `[cf:no-envelope]`, `[cf:unsuccessful]`, `[cf:cut]`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from worker.simulator.plumbing import answer_lifespan, read_all

MODELS = {"@cf/qwen/qwq-32b"}
ANSWER = "The user asks for a capital. </think>\n\nParis is the capital of France."
ROUTE = re.compile(r"^/client/v4/accounts/(?P<account>[^/]+)/ai/run/(?P<model>.+)$")
FAULTS: dict[str, tuple[int, int, str]] = {
    "capacity": (429, 3040, "Capacity temporarily exceeded, please try again."),
    "timeout": (408, 3007, "Request timeout"),
    "too-large": (413, 3006, "Request is too large"),
    "bad-input": (400, 5006, "AiError: Bad input: Error: oneOf at '/' not met, 0 matches"),
}


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: int, message: str) -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


class FakeCloudflare:
    def __init__(self, token: str = "cf-token", account: str = "acc0123") -> None:
        self.token = token
        self.account = account
        self.seen = Seen()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        raw = await read_all(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.paths.append(scope["path"])
        self.seen.authorizations.append(headers.get("authorization", ""))
        route = ROUTE.match(scope["path"])
        if scope["method"] != "POST" or route is None or route["account"] != self.account:
            await _json(send, 404, failure(7003, "Could not route to the requested resource"))
            return
        if headers.get("authorization") != f"Bearer {self.token}":
            await _json(send, 401, failure(10000, "Authentication error"))
            return
        if route["model"] not in MODELS:
            await _json(send, 400, failure(5007, f"No such model {route['model']} or task"))
            return
        body = orjson.loads(raw)
        self.seen.bodies.append(body)
        await self._run(body, send)

    async def _run(self, body: dict[str, Any], send: Any) -> None:
        messages = body.get("messages") or []
        text = body.get("prompt") or (messages[-1].get("content", "") if messages else "")
        marker = re.search(r"\[cf:([a-z-]+)\]", str(text))
        fault = marker.group(1) if marker else None
        if ("prompt" in body) == ("messages" in body) or fault == "bad-input":
            status, code, message = FAULTS["bad-input"]
            await _json(send, status, failure(code, message))
            return
        if fault in FAULTS:
            status, code, message = FAULTS[fault or ""]
            await _json(send, status, failure(code, message))
            return
        usage = {"prompt_tokens": 12, "completion_tokens": 17, "total_tokens": 29}
        calls = None
        if body.get("tools"):
            tool = body["tools"][0]
            name = tool.get("name") or tool.get("function", {}).get("name")
            calls = [{"name": name, "arguments": {"city": "Paris"}}]
        if fault == "no-envelope":
            await _json(send, 200, {"response": ANSWER})
            return
        if fault == "unsuccessful":
            await _json(send, 200, failure(5000, "Internal error"))
            return
        if not body.get("stream"):
            result: dict[str, Any] = {"response": None if calls else ANSWER, "usage": usage}
            if calls:
                result["tool_calls"] = calls
            await _json(send, 200, envelope(result))
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )

        async def event(data: dict[str, Any]) -> None:
            data["p"] = secrets.token_urlsafe(secrets.randbelow(12) + 1)  # Cloudflare's padding
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(data) + b"\n\n",
                    "more_body": True,
                }
            )

        if calls:
            await event({"response": "", "tool_calls": calls})
        else:
            words = ANSWER.split(" ")
            for i, word in enumerate(words):
                if fault == "cut" and i == len(words) // 2:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                await event({"response": word if i == 0 else " " + word})
        await event({"response": "", "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _json(send: Any, status: int, data: Any) -> None:
    body = orjson.dumps(data)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
