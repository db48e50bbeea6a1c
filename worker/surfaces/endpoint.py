"""One request handler for every surface, parametrized by a dialect.

Every surface (`POST /{modelSlug}`, Cloudflare REST, OpenAI, Anthropic) shares the same path through
this module, so auth, body limits, logging and the 499/cancellation behaviour cannot differ between
them. A dialect only says what differs: which header carries the key, how the body becomes the IR,
and how completions, stream events and errors are written in its shape.

Order of checks for every surface: auth (401) before the model (404), so that an anonymous caller
learns nothing about which models exist; then Content-Type (415), size (413), JSON (400), schema (400),
and last whether the key may use the model (403).
Each surface lives in its own module of this package (`model_slug`, `cloudflare`, `openai`, `anthropic`)
as a dialect plugged into `DialectEndpoint`; `routes` puts them on their paths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from worker.config.models import ModelEntry
from worker.core.aggregate import Completion, aggregate
from worker.core.errors import Forbidden, GatewayError
from worker.core.identity import Identity
from worker.core.ir import ChatRequest, Event, Finish, Usage, UsageEvent
from worker.core.outcome import RequestRecord
from worker.state import AppState
from worker.web.access_log import STATUS_KEY, record_of, request_id_of
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
from worker.web.auth import KeyRing, UnknownKey, authenticate, credential
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
    error_event: Callable[[GatewayError], bytes] | None = None
    """The stream's failure event when it depends on the stream so far (the Responses API repeats the
    response's id and numbering); the dialect's `error_event` otherwise."""
    prepare: Callable[[Identity], Awaitable[Call]] | None = None
    """Work on the event loop once the key may use the model, before anything goes upstream; gives the
    call to make (the Responses API loads a stored conversation and binds the key that owns it)."""
    settle: Callable[[Completion, str], Awaitable[bytes]] | None = None
    """`render` that must await something before the answer is sent (storing the response)."""

    def answer_headers(self) -> list[tuple[bytes, bytes]]:
        if not self.ignored:
            return self.headers
        return [*self.headers, (IGNORED_HEADER, ", ".join(self.ignored).encode())]


class Dialect(Protocol):
    surface: str
    """The surface's name in request records, logs and metrics (`workers`, `openai`, ...)."""

    def authenticate(self, keys: KeyRing, scope: Scope) -> Identity:
        """The identity of the request's key (in this surface's header), or raise `Unauthorized`."""

    def locate(self, scope: Scope, state: AppState) -> ModelEntry | None:
        """The model named by the path, checked before the body is read; `None` when it is in the body."""

    def parse(self, body: Any, located: ModelEntry | None, scope: Scope, state: AppState) -> Call:
        """Validate a decoded body and build the call, or raise `BadRequest`/`NotFound`."""

    def render_error(self, error: GatewayError) -> RenderedError:
        """Status, JSON body and headers of an error answered before any byte of the answer."""

    def error_event(self, error: GatewayError) -> bytes:
        """What a stream carries when it fails after its first byte."""


def bearer_authenticate(keys: KeyRing, scope: Scope) -> Identity:
    return authenticate(keys, credential(scope, b"authorization"))


def error_headers(error: GatewayError) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]


async def identify(state: AppState, dialect: Dialect, scope: Scope) -> Identity:
    """The dialect's authentication; a managed key created on another process since this one last looked
    is read from the store once (`worker.store.keycache`), then checked again."""
    try:
        return dialect.authenticate(state.keys, scope)
    except UnknownKey as miss:
        if state.key_cache is None:
            raise
        await state.key_cache.fetch(miss.key_id)
        return dialect.authenticate(state.keys, scope)


def priced(state: AppState, record: RequestRecord, usage: Usage) -> Usage:
    """The usage with its cost at the answering target's prices (`estimated_cost` in the answer)."""
    prices = state.prices.get(record.target) or state.prices.get(record.model)
    if prices is None or prices.free:
        return usage
    # The constructor, not `dataclasses.replace` (which inspects the fields on every call): every
    # priced answer passes here.
    cost = prices.cost(usage.prompt_tokens, usage.completion_tokens)
    return Usage(usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens, usage.estimated, cost)


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
            record = record_of(scope)
            if record is not None:
                record.error_code = error.code
            if error.status == 499:
                raise
            status, body, headers = self.dialect.render_error(error)
            scope[STATUS_KEY] = status
            await send_json(send, status, body, headers)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, dialect = self.state, self.dialect
        record = record_of(scope)
        if record is not None:  # before any check: a refusal counts under its surface too
            record.surface = dialect.surface
        check_headers(scope, state.settings.max_headers)
        identity = await identify(state, dialect, scope)
        if record is not None:  # from here on the request is accounted to the key
            record.key_id = identity.key_id
        located = dialect.locate(scope, state)
        if located is not None and record is not None:
            record.model = located.slug
        require_json(scope)
        settings = state.settings
        body = await read_body(scope, receive, settings.max_body_bytes, settings.body_timeout)
        call = dialect.parse(decode_json(body), located, scope, state)
        request_id = request_id_of(scope)
        if record is not None:
            record.model = call.entry.slug
            record.streamed = call.request.stream
            record.request = call.request
        if not identity.may_use(call.entry.slug):
            raise Forbidden(f"This API key may not use the model '{call.entry.slug}'")
        if call.prepare is not None:
            call = await call.prepare(identity)
            if record is not None:
                record.request = call.request
        limited: list[tuple[bytes, bytes]] = []
        if state.gate is not None:
            limited = await state.gate.admit(identity, call.request, call.entry, dialect.surface, record)
        answer_headers = call.answer_headers() + limited if limited else call.answer_headers()
        async with DisconnectGuard(receive):
            events = state.router.events(call.request, call.entry, record)
            if call.wrap is not None:
                events = call.wrap(events)
            if call.request.stream:
                encode: Callable[[Event], bytes] = call.encoder(request_id)
                render_error: Callable[[GatewayError], RenderedError] = dialect.render_error
                error_event: Callable[[GatewayError], bytes] = call.error_event or dialect.error_event
                if record is not None:
                    encode, render_error, error_event = _recorded(
                        state, record, encode, render_error, error_event
                    )
                scope[STATUS_KEY] = await respond_stream(
                    send,
                    events,
                    encode,
                    render_error,
                    error_event,
                    state.settings.keepalive_interval,
                    request_id,
                    answer_headers,
                    state.shutdown,
                )
                return
            completion = await aggregate(events)
            if record is not None:
                if completion.usage is not None:
                    completion = completion.with_usage(priced(state, record, completion.usage))
                record.usage = completion.usage
                record.finish_reason = completion.finish_reason
            if call.settle is not None:
                answer = await call.settle(completion, request_id)
            else:
                answer = call.render(completion, request_id)
            await send_json(send, 200, answer, answer_headers)


def _recorded(
    state: AppState,
    record: RequestRecord,
    encode: Callable[[Event], bytes],
    render_error: Callable[[GatewayError], RenderedError],
    error_event: Callable[[GatewayError], bytes],
) -> tuple[
    Callable[[Event], bytes], Callable[[GatewayError], RenderedError], Callable[[GatewayError], bytes]
]:
    """The stream's encoder and error writers, noting the usage sent and the error that ended the stream.

    Plain function wrappers, not another async generator layer over the events (a layer costs every
    event a resumption): the usage event passes through the encoder anyway.
    """

    def encode_noting_usage(event: Event) -> bytes:
        if type(event) is UsageEvent:
            event = UsageEvent(priced(state, record, event.usage))
            record.usage = event.usage
        elif type(event) is Finish:
            record.finish_reason = event.reason
        return encode(event)

    def render_noting_code(error: GatewayError) -> RenderedError:
        record.error_code = error.code
        return render_error(error)

    def event_noting_code(error: GatewayError) -> bytes:
        record.error_code = error.code
        return error_event(error)

    return encode_noting_usage, render_noting_code, event_noting_code
