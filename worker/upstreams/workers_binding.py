"""Adapter for the Workers AI binding (`env.AI.run(model, inputs)`), the upstream inside a Cloudflare Worker.

The binding takes the same input as the REST API and answers the same way, without the HTTP around it:
a whole answer is the object the REST API puts in its `result` envelope; with `stream: true` it is a
ReadableStream of the same SSE bytes (`data: {"response": ...}` ... `data: [DONE]`); a failure is a
thrown error whose message carries Cloudflare's error code (`3040: Capacity temporarily exceeded`).

So the binding is wrapped as a `Wire` (`BindingWire`): the call becomes an answer with a status, a
content type and a body, and `WorkersAIBinding` is the REST adapter's exchange, decoders and error
table (`worker.upstreams.workers_ai`) pointed at it. The target's `model` is the Cloudflare model id.

Nothing here imports the runtime: the JavaScript objects are used only through the attributes Pyodide
gives them (`to_py()`, `getReader()`, `read()`, `done`, `value.to_bytes()`), and the conversion of the
input to a JavaScript object is passed in (`pyodide.ffi.to_js`, found when running inside a Worker), so
the tests drive it with plain fakes of those shapes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import orjson

from worker.config.models import Target
from worker.core.ir import UpstreamEvent
from worker.upstreams.wire.decode import WireFormat, json_body
from worker.upstreams.wire.seam import Answer, Timeouts
from worker.upstreams.workers_ai import EFFECTIVE_STATUS, cloudflare_error
from worker.upstreams.workers_format import WORKERS_END, WorkersChunks, WorkersStyleUpstream, result_events

# `5007: No such model`, `AiError: 3040: Capacity ...`, `InferenceUpstreamError: ERROR 3036: ...`.
_CODE = re.compile(r"\b(\d{4,5})\s*:")
JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}


def runtime_to_js() -> Callable[[Any], Any]:
    """Pyodide's conversion of a dict to a plain JavaScript object (the binding reads its fields; a
    Python dict would arrive as a `Map`). Outside a Worker there is no JavaScript: the value itself."""
    try:
        import js  # type: ignore[import-not-found]
        from pyodide.ffi import to_js  # type: ignore[import-not-found]
    except ImportError:
        return lambda value: value
    return lambda value: to_js(value, dict_converter=js.Object.fromEntries)


def error_envelope(error: BaseException) -> tuple[int, bytes]:
    """A thrown binding error as the REST API would have answered it: (status, envelope body)."""
    message = str(error)[:1000]
    found = _CODE.search(message)
    code = int(found.group(1)) if found else None
    status = EFFECTIVE_STATUS.get(code, 500) if code is not None else 500
    errors = [{"code": code, "message": message[found.end() :].strip() if found else message}]
    return status, orjson.dumps({"success": False, "errors": errors, "result": None})


class BindingAnswer:
    """One call's outcome in the `Answer` shape: a whole body, or the binding's stream read as it comes."""

    __slots__ = ("_body", "_reader", "headers", "status_code")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes = b"", reader: Any = None):
        self.status_code = status
        self.headers = headers
        self._body = body
        self._reader = reader

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._reader is None:
            if self._body:
                yield self._body
            return
        while True:
            chunk = await self._reader.read()
            if chunk.done:
                self._reader = None
                return
            value = chunk.value
            yield value.to_bytes() if hasattr(value, "to_bytes") else bytes(value)

    async def aread(self) -> bytes:
        return b"".join([piece async for piece in self.aiter_bytes()])

    def finish_in_background(self) -> None:
        """Nothing to drain: leaving the call's context cancels what is left of the binding's stream,
        and there is no pooled connection to keep."""

    async def cancel(self) -> None:
        """A stream left before its end (the client went away): tell the binding to stop generating."""
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.cancel()


class BindingWire:
    """A `Wire` over `env.AI`: the URL is the model id, the body the Workers AI input as JSON."""

    def __init__(self, binding: Any, to_js: Callable[[Any], Any] | None = None) -> None:
        self._binding = binding
        self._to_js = to_js or runtime_to_js()

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeouts | None = None
    ) -> AbstractAsyncContextManager[Answer]:
        # The binding has no timeouts of its own: the router's first-byte and idle deadlines still apply.
        return self._run(url, body)

    @asynccontextmanager
    async def _run(self, url: str, body: bytes) -> AsyncIterator[Answer]:
        try:
            result = await self._binding.run(url, self._to_js(orjson.loads(body)))
        except Exception as exc:  # a JsException, whatever its JavaScript class
            status, envelope = error_envelope(exc)
            yield BindingAnswer(status, JSON, envelope)
            return
        if hasattr(result, "getReader"):
            answer = BindingAnswer(200, SSE, reader=result.getReader())
            try:
                yield answer
            finally:
                await answer.cancel()
            return
        data = result.to_py() if hasattr(result, "to_py") else result
        yield BindingAnswer(200, JSON, orjson.dumps(data))

    def connection_counts(self) -> tuple[int, int]:
        return 0, 0  # no pool: the runtime owns the connection to Workers AI

    async def aclose(self) -> None:
        """Nothing to close: the binding belongs to the Worker's `env`."""


def binding_result(body: bytes) -> Iterator[UpstreamEvent]:
    """A whole answer: the binding hands back what the REST API wraps in its envelope."""
    return result_events(json_body(body))


class WorkersAIBinding(WorkersStyleUpstream):
    format = WireFormat(cloudflare_error, binding_result, WorkersChunks, WORKERS_END)

    def url(self, target: Target) -> str:
        return target.model
