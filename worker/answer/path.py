"""The answer's way from the upstream's normalized events to the dialect encoders.

    upstream events -> split_reasoning -> parse_tagged_calls (prompt tools) -> checks -> present_reasoning

Checks, made when the answer's `Finish` arrives (before it goes on, so a failure can still become an
error event in a stream instead of a clean end):
- `guided_json`: the answer text must parse and fit the schema (`worker.answer.structured`);
- prompt-mode tools with `tool_choice` `required` or a named function: at least one call must have come;
- every tool call's arguments must be valid JSON (streamed calls were sent in pieces, unchecked).

On a failed check the request is tried once more, but only while nothing of the answer has reached the
client: always for non-streamed requests (their events are held here until checked; that is bounded
by `max_tokens`), and for streams only while everything so far was invisible to the client (hidden
reasoning; answer text while a required call has not come yet is held back for this). Otherwise,
or when the second try fails too, the client gets the error: never invalid JSON passed off as success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson

from worker.answer.reasoning import present_reasoning, split_reasoning
from worker.answer.structured import Validator, check_answer, compile_schema
from worker.answer.tool_prompt import prompt_tools_request
from worker.answer.tool_tags import parse_tagged_calls
from worker.config.models import Target
from worker.core.closing import close
from worker.core.errors import GatewayError, UpstreamBadResponse
from worker.core.ir import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningMode,
    TextDelta,
    ToolCallDelta,
)

Run = Callable[[ChatRequest], AsyncIterator[Event]]


class ToolCallMissing(UpstreamBadResponse):
    code = "tool_call_missing"
    message = "The model did not call a tool although tool_choice required one"


def _visible(event: Event, mode: ReasoningMode, waiting_for_call: bool) -> bool:
    """Would this event put bytes of the answer in front of the client? While a required call has
    not come, answer text is held back (it may be the prelude of an answer that gets retried)."""
    if isinstance(event, ReasoningDelta):
        return mode != "hidden"
    if isinstance(event, ReasoningEnd):  # inline, it is written as `</think>`
        return mode == "inline" and not waiting_for_call
    if isinstance(event, TextDelta) and waiting_for_call:
        return False
    if isinstance(event, TextDelta):
        return bool(event.text.strip())
    return isinstance(event, ToolCallDelta)


class _Check:
    __slots__ = ("_arguments", "_calls", "_field", "_names", "_required", "_text", "_validator")

    def __init__(self, validator: Validator | None, call_required: bool, field: str) -> None:
        self._validator = validator
        self._field = field
        self._required = call_required
        self._text: list[str] = []
        self._calls = False
        self._arguments: dict[int, list[str]] = {}
        self._names: dict[int, str] = {}

    def add(self, event: Event) -> None:
        if isinstance(event, ToolCallDelta):
            self._calls = True
            self._arguments.setdefault(event.index, []).append(event.arguments)
            if event.name:
                self._names[event.index] = event.name
        elif isinstance(event, TextDelta) and self._validator is not None:
            self._text.append(event.text)

    def bad_arguments(self) -> GatewayError | None:
        """Streamed calls go out piece by piece, so their JSON is checked here, before the finish: a
        broken call ends the stream with an error instead of `finish_reason: "tool_calls"`."""
        for index, pieces in self._arguments.items():
            text = "".join(pieces)
            try:
                if text.strip():
                    orjson.loads(text)
            except orjson.JSONDecodeError:
                name = self._names.get(index, "?")
                return UpstreamBadResponse(
                    f"The upstream's call to '{name}' has arguments that are not valid JSON"
                )
        return None

    @property
    def waiting_for_call(self) -> bool:
        return self._required and not self._calls

    def failure(self, finish: Finish) -> GatewayError | None:
        if self._calls and (broken := self.bad_arguments()) is not None:
            return broken
        if self._required and not self._calls:
            return ToolCallMissing()
        if self._validator is not None and not self._calls:
            return check_answer(self._validator, "".join(self._text), finish.reason == "length", self._field)
        return None


async def _checked(
    request: ChatRequest, upstream_request: ChatRequest, run: Run, prompt_tools: bool, mode: ReasoningMode
) -> AsyncIterator[Event]:
    validator = (
        compile_schema(request.response_schema, request.schema_field)
        if request.response_schema is not None
        else None
    )
    choice = request.tool_choice
    call_required = prompt_tools and choice is not None and choice.mode in ("required", "function")
    tries = 2 if validator is not None or call_required else 1
    for attempt in range(tries):
        can_retry = attempt + 1 < tries
        events = run(upstream_request)
        if not request.raw:
            events = split_reasoning(events, request.response_schema is not None or request.json_mode)
        if prompt_tools:
            events = parse_tagged_calls(events)
        check = _Check(validator, call_required, request.schema_field)
        held: list[Event] = []
        retry = False
        try:
            async for event in events:
                if isinstance(event, Finish):
                    failure = check.failure(event)
                    if failure is not None and can_retry and failure.status >= 500:  # the upstream's fault
                        retry = True
                        break
                    if failure is not None:
                        raise failure
                    can_retry = False
                else:
                    check.add(event)
                    if mode == "hidden" and isinstance(event, ReasoningDelta):
                        continue  # never shown, already counted: nothing to hold or pass on
                    if can_retry and request.stream and _visible(event, mode, check.waiting_for_call):
                        can_retry = False  # the client is about to see it: no second try any more
                if can_retry:
                    held.append(event)
                    continue
                if held:
                    for out in held:
                        yield out
                    held.clear()
                yield event
        finally:
            await close(events)
        if not retry:
            for out in held:
                yield out
            return


def answer_events(
    request: ChatRequest, target: Target, run: Run, default_mode: ReasoningMode
) -> AsyncIterator[Event]:
    """The client-ready events of `request` on `target`; `run` calls the upstream (normalized).
    `default_mode` is the `REASONING_MODE` setting, used when the request has none."""
    mode = request.reasoning or default_mode
    in_prompt = target.tool_mode == "prompt" and not request.raw
    upstream_request = prompt_tools_request(request) if in_prompt else request
    offered = bool(request.tools) and (request.tool_choice is None or request.tool_choice.mode != "none")
    if not request.tools and request.response_schema is None:
        # Nothing to check (no calls offered, no schema), so no retry either: the checking stage would
        # only hand every event on, and a stage is a resumption per event on the hottest path.
        events = run(upstream_request)
        if request.raw:
            return present_reasoning(events, mode)
        if mode == "inline":  # split and presented in one stage
            return split_reasoning(events, request.json_mode, inline=True)
        return present_reasoning(split_reasoning(events, request.json_mode), mode)
    checked = _checked(request, upstream_request, run, in_prompt and offered, mode)
    return present_reasoning(checked, mode)
