"""One request handler for every surface, parametrized by a dialect.

Every surface (`POST /{modelSlug}`, Cloudflare REST, OpenAI, Anthropic) shares the same path through
this module, so auth, body limits, logging and the 499/cancellation behaviour cannot differ between
them. A dialect only says what differs: which header carries the key, how the body becomes the IR,
and how completions, stream events and errors are written in its shape.

Order of checks for every surface: auth (401) before the model (404), so that an anonymous caller
learns nothing about which models exist; then Content-Type (415), size (413), JSON (400), schema (400).
Each surface lives in its own module of this package (`model_slug`, `cloudflare`, `openai`, `anthropic`)
as a dialect plugged into `DialectEndpoint`; `routes` puts them on their paths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from worker.config.models import ModelEntry
from worker.core.aggregate import Completion, aggregate
from worker.core.errors import GatewayError
from worker.core.ir import ChatRequest, Event
from worker.state import AppState
from worker.web.access_log import STATUS_KEY, request_id_of
from worker.web.asgi import (
    Receive,
    Scope,
    Send,
    check_headers,
    decode_json,
    read_body,
    require_json,
    send_json,
)
from worker.web.auth import KeyRing, authenticate, credential
from worker.web.disconnect import DisconnectGuard
from worker.web.streaming import respond_stream

RenderedError = tuple[int, bytes, list[tuple[bytes, bytes]]]
IGNORED_HEADER = b"x-gateway-ignored-fields"


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed request and how to answer it, as the dialect decided while parsing."""

    request: ChatRequest
    entry: ModelEntry
    render: Callable[[Completion, str], bytes]
    """(completion, request id) -> the JSON body of a non-streamed answer."""
    encoder: Callable[[str], Callable[[Event], bytes]]
    """request id -> an encoder of stream events (a fresh one per stream: encoders keep state)."""
    ignored: tuple[str, ...] = ()
    """Fields accepted but not acted upon, named in the `X-Gateway-Ignored-Fields` header."""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    wrap: Callable[[AsyncIterator[Event]], AsyncIterator[Event]] | None = None
    """A last transformation of the answer's events (gateway-side stop sequences)."""

    def answer_headers(self) -> list[tuple[bytes, bytes]]:
        if not self.ignored:
            return self.headers
        return [*self.headers, (IGNORED_HEADER, ", ".join(self.ignored).encode())]


class Dialect(Protocol):
    def authenticate(self, keys: KeyRing, scope: Scope) -> None:
        """Raise `Unauthorized` unless the request carries a valid key (in this surface's header)."""

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        """The model named by the path, checked before the body is read; `None` when it is in the body."""

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        """Validate a decoded body and build the call, or raise `BadRequest`/`NotFound`."""

    def render_error(self, error: GatewayError) -> RenderedError:
        """Status, JSON body and headers of an error answered before any byte of the answer."""

    def error_event(self, error: GatewayError) -> bytes:
        """What a stream carries when it fails after its first byte."""


def bearer_authenticate(keys: KeyRing, scope: Scope) -> None:
    authenticate(keys, credential(scope, b"authorization"))


def error_headers(error: GatewayError) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]


class DialectEndpoint:
    """A pure ASGI endpoint serving one dialect over the shared gateway."""

    def __init__(self, state: AppState, dialect: Dialect) -> None:
        self.state = state
        self.dialect = dialect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with self.state.shutdown.track():
                await self._handle(scope, receive, send)
        except GatewayError as error:
            scope[STATUS_KEY] = error.status
            if error.status == 499:
                raise
            status, body, headers = self.dialect.render_error(error)
            scope[STATUS_KEY] = status
            await send_json(send, status, body, headers)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, dialect = self.state, self.dialect
        check_headers(scope, state.settings.max_headers)
        dialect.authenticate(state.keys, scope)
        located = dialect.locate(scope, state)
        require_json(scope)
        settings = state.settings
        body = await read_body(scope, receive, settings.max_body_bytes, settings.body_timeout)
        call = dialect.parse(decode_json(body), located, scope, state)
        request_id = request_id_of(scope)
        async with DisconnectGuard(receive):
            events = state.router.events(call.request, call.entry)
            if call.wrap is not None:
                events = call.wrap(events)
            if call.request.stream:
                scope[STATUS_KEY] = await respond_stream(
                    send,
                    events,
                    call.encoder(request_id),
                    dialect.render_error,
                    dialect.error_event,
                    state.settings.keepalive_interval,
                    request_id,
                    call.answer_headers(),
                    state.shutdown,
                )
                return
            completion = await aggregate(events)
            await send_json(send, 200, call.render(completion, request_id), call.answer_headers())
