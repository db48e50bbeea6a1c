"""QwQ's reasoning: split it from the answer, then present it the way the client asked.

QwQ writes `reasoning ... </think>\n\nanswer`; its chat template already opened `<think>`, so the opening
tag is usually missing and sometimes present. Some upstreams (vLLM's reasoning parser, DeepInfra) hand
the reasoning out in a separate field instead, which arrives here as `ReasoningDelta` events.

Two stream transforms, kept apart so that the stages in between (tool-call tags, schema checks) only
ever see the answer as `TextDelta`s:

- `split_reasoning` turns inline text into `ReasoningDelta`s up to `</think>` and `TextDelta`s after
  it, exact even when the tag is cut across chunks at any character (a possible tag prefix is held
  back, never more). Where the tag was it emits a `ReasoningEnd` event. Following vLLM's parser, text
  without any `</think>` is all reasoning (QwQ was cut off while thinking), except a JSON answer to a
  JSON request that starts right away (no reasoning at all). It also fills in
  `usage.completion_tokens_details.reasoning_tokens` when the upstream did not say.
- `present_reasoning` renders the mode: `inline` gives back the upstream's bytes (reasoning, the tag,
  the answer: byte-identical when the upstream was inline), `separate` keeps `ReasoningDelta`s for the
  encoders' separate field with the tags and the white space around them trimmed, `hidden` drops them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from worker.core.closing import close
from worker.core.ir import (
    Event,
    Finish,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningMode,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from worker.core.tokens import TokenTally

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def held_prefix(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag` (and must be held back)."""
    at = text.find(tag[0], max(0, len(text) - len(tag) + 1))
    while at >= 0:  # leftmost candidate first: the longest prefix wins
        if tag.startswith(text[at:]):
            return len(text) - at
        at = text.find(tag[0], at + 1)
    return 0


def _closed_usage(event: UsageEvent, tally: TokenTally) -> UsageEvent:
    """Counted in batches (`TokenTally`), not per chunk: a regex scan per event cost even upstreams that
    report the figure themselves; and only used when the upstream did not say."""
    usage = event.usage
    if usage.reasoning_tokens is not None:
        return event
    counted = tally.total()
    if counted == 0:
        return event
    reasoning = min(counted, usage.completion_tokens)
    return UsageEvent(Usage(usage.prompt_tokens, usage.completion_tokens, reasoning, usage.estimated))


INLINE_CLOSE = TextDelta(THINK_CLOSE)
REASONING_END = ReasoningEnd()
TAG_TAIL = len(THINK_CLOSE) - 1  # the longest end of a chunk that can be the start of the tag
# White space held back (before a JSON answer's first character, or at the end of the reasoning in case
# it is its end) is bounded: memory per stream must not grow with the answer, even one of blanks.
MAX_HELD_SPACE = 4096


async def split_reasoning(
    events: AsyncIterator[Event], json_answer: bool = False, inline: bool = False
) -> AsyncIterator[Event]:
    """`json_answer`: the request asked for JSON; output that opens with `{` or `[` is then all answer
    (a server enforcing the schema from the first token leaves no room for reasoning).

    `inline`: yield what `present_reasoning(..., "inline")` would make of the split, in this one
    stage, for answers with no stage between the two (no tools, no schema): the reasoning as plain
    text, the tag as text, and an inline upstream's chunks passed on as they came (the same objects,
    where no tag was held back). A stage less is one resumption and two allocations less per event."""
    as_reasoning: Callable[[str], Event] = TextDelta if inline else ReasoningDelta
    close_mark: Event = INLINE_CLOSE if inline else REASONING_END
    state = "reasoning"  # -> "answer" after the tag (inline) or after the field's reasoning ended
    from_field = False
    held = ""
    reasoning_parts = TokenTally()  # the reasoning's tokens, for a usage that lacks the figure
    last_char = ""
    undecided = json_answer
    try:
        async for event in events:
            if undecided and type(event) is TextDelta:
                held += event.text
                first = held.lstrip()[:1]
                if not first and len(held) <= MAX_HELD_SPACE:
                    continue
                undecided = False  # (white space only, and that much of it: not an answer opening with JSON)
                if first and first in "{[":
                    state = "answer"
                event, held = TextDelta(held), ""
            # Nearly every event is text: its branches first, and `type() is` rather than isinstance.
            if type(event) is TextDelta:
                if state == "answer":
                    if event.text or not inline:  # (inline: an empty chunk says nothing, as the presenter)
                        yield event
                    continue
                if from_field:
                    # the field's reasoning is over: stand in the separators an inline upstream would write
                    state = "answer"
                    if last_char and not last_char.isspace():
                        yield as_reasoning("\n")
                    yield close_mark
                    if event.text and not event.text[0].isspace():
                        yield TextDelta("\n\n")
                    if event.text or not inline:
                        yield event
                    continue
                text = held + event.text
                at = text.find(THINK_CLOSE)
                if at < 0:
                    # `held_prefix` only when a `<` is near the end: most chunks have none
                    keep = held_prefix(text, THINK_CLOSE) if "<" in text[-TAG_TAIL:] else 0
                    held = text[len(text) - keep :]
                    if len(text) > keep:
                        part = text[: len(text) - keep]
                        reasoning_parts.add(part)
                        if not inline:
                            yield ReasoningDelta(part)
                        else:  # nothing held before or after: the upstream's own chunk goes on
                            yield event if part is event.text else TextDelta(part)
                    continue
                held = ""
                state = "answer"
                if at:
                    reasoning_parts.add(text[:at])
                    yield as_reasoning(text[:at])
                yield close_mark
                rest = text[at + len(THINK_CLOSE) :]
                if rest:
                    yield TextDelta(rest)
                continue
            if type(event) is ReasoningDelta:
                from_field = True
                undecided = False
                if event.text:
                    reasoning_parts.add(event.text)
                    last_char = event.text[-1]
                    yield TextDelta(event.text) if inline else event
                continue
            if (type(event) is ToolCallDelta or type(event) is Finish) and state == "reasoning":
                if held:
                    yield as_reasoning(held)
                    held = ""
                if from_field and (
                    type(event) is ToolCallDelta or (type(event) is Finish and event.reason != "length")
                ):
                    state = "answer"
                    if last_char and not last_char.isspace():
                        yield as_reasoning("\n")
                    yield close_mark
            if type(event) is UsageEvent:
                event = _closed_usage(event, reasoning_parts)
            yield event
        if held:
            yield as_reasoning(held)
    finally:
        await close(events)


def present_reasoning(events: AsyncIterator[Event], mode: ReasoningMode) -> AsyncIterator[Event]:
    # The presenter itself is returned (no wrapping generator): every layer of async generator costs
    # each event a resumption, and this path carries every event of every answer.
    return _inline(events) if mode == "inline" else _trimmed(events, mode)


async def _inline(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    try:
        async for event in events:
            if isinstance(event, ReasoningEnd):
                yield INLINE_CLOSE
            elif isinstance(event, ReasoningDelta):
                yield TextDelta(event.text)
            elif not isinstance(event, TextDelta) or event.text:
                yield event
    finally:
        await close(events)


async def _trimmed(events: AsyncIterator[Event], mode: ReasoningMode) -> AsyncIterator[Event]:
    """`separate` and `hidden`: a leading `<think>`, and white space around the reasoning, go."""
    at_start = True
    pending = ""  # white space held until we know whether more reasoning follows
    trim_answer = False
    try:
        async for event in events:
            if isinstance(event, ReasoningDelta):
                if mode == "hidden":
                    continue
                text = pending + event.text
                if at_start:
                    stripped = text.lstrip()
                    if held_prefix(stripped, THINK_OPEN) == len(stripped) and stripped:
                        pending = text  # could still become `<think>`
                        continue
                    if stripped.startswith(THINK_OPEN):
                        stripped = stripped[len(THINK_OPEN) :].lstrip()
                    text = stripped
                    if not text:
                        pending = ""
                        continue
                    at_start = False
                body = text.rstrip()
                pending = text[len(body) :]
                if body:
                    yield event if body is event.text else ReasoningDelta(body)
                elif len(pending) > MAX_HELD_SPACE:  # that much white space is not a trailing gap: pass it on
                    yield ReasoningDelta(pending)
                    pending = ""
                continue
            if isinstance(event, ReasoningEnd):
                pending = ""
                trim_answer = True
                continue
            if isinstance(event, TextDelta):
                text = event.text.lstrip() if trim_answer else event.text
                if text:
                    trim_answer = False
                    yield event if text is event.text else TextDelta(text)
                continue
            if isinstance(event, Finish) and at_start and pending.strip() and mode == "separate":
                yield ReasoningDelta(pending.strip())  # a reasoning so short it never got past "<thi"
                pending = ""
            yield event
    finally:
        await close(events)
